"""Consumers as the app's real counterparts behave: read the queue, download, verify, ack.

Used by the demo and the end-to-end tests. ``NotificationReader`` reads one consumer queue
(``device-notifications``, ...) with the async queue client, keeps the messages of one run (by
``parentInstanceId``), de-duplicates them on ``notificationId`` (delivery is at least once) and
deletes what it took; other runs' messages become visible again after a second.
``fetch_digest`` downloads a package through its SAS URL and hashes it; ``post_ack`` POSTs the
ack to the message's ``ackUrl`` (no key: the signed link is the credential).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from azure.storage.queue.aio import QueueClient

#: How long a message of another run stays invisible after we looked at it.
_PEEK_SECONDS = 1


@dataclass
class NotificationReader:
    """Reads one queue for the notifications of runs whose id is ``parent_id``."""

    connection_string: str
    queue: str
    parent_id: str
    seen: set[str] = field(default_factory=set)
    duplicates: int = 0

    async def take(self, count: int, timeout: float = 60.0) -> list[dict[str, Any]]:
        """The next ``count`` distinct notifications of the run (fewer if ``timeout`` passes)."""
        found: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        async with QueueClient.from_connection_string(self.connection_string, self.queue) as q:
            while len(found) < count and time.monotonic() < deadline:
                got_any = False
                try:
                    batch = q.receive_messages(
                        messages_per_page=32, visibility_timeout=_PEEK_SECONDS, max_messages=32
                    )
                    async for message in batch:
                        got_any = True
                        body = json.loads(message.content)
                        if body.get("parentInstanceId") != self.parent_id:
                            continue  # another run's: it reappears for its own reader
                        await q.delete_message(message)
                        if body["notificationId"] in self.seen:
                            self.duplicates += 1
                            continue
                        self.seen.add(body["notificationId"])
                        found.append(body)
                except Exception as error:
                    if "QueueNotFound" not in str(error):
                        raise
                if not got_any:
                    await asyncio.sleep(0.1)
        return found


async def fetch_digest(session: aiohttp.ClientSession, url: str) -> tuple[int, str]:
    """(HTTP status, sha256 of the body) of a GET through the package's SAS URL."""
    async with session.get(url) as response:
        data = await response.read()
        return response.status, hashlib.sha256(data).hexdigest()


async def post_ack(
    session: aiohttp.ClientSession, ack_url: str, payload: Any
) -> tuple[int, dict[str, Any]]:
    """(HTTP status, JSON body) of the ack POSTed to the notification's ``ackUrl``."""
    async with session.post(ack_url, json=payload) as response:
        return response.status, await response.json(content_type=None)
