"""A small async client for the app's starters and the Durable HTTP API (real HTTP, aiohttp).

Only what the demo and the end-to-end tests need: start a workflow, read a status, list
instances by id prefix, raise an event (as a device does, or double-encoded as the Python SDK
client does), wait for a status. Every call returns ``(status_code, json_body_or_None)`` or a
parsed value, so callers assert on the documented codes themselves.
"""

from __future__ import annotations

import asyncio
import io
import json
import time
from typing import Any
from urllib.parse import quote

import aiohttp
from yarl import URL

WEBHOOK = "/runtime/webhooks/durabletask"
RPC = "/durabletask"
ACK_EVENT = "DownloadCompletedAck"
TERMINAL = frozenset({"Completed", "Failed", "Terminated", "Canceled"})


def quote_id(instance_id: str) -> str:
    """An instance id as one URL path segment (ids like ``parent:device:d1`` keep ``:``)."""
    return quote(instance_id, safe=":@-._~")


class Response:
    def __init__(self, status: int, body: Any, text: str, headers: Any) -> None:
        self.status = status
        self.body = body
        self.text = text
        self.headers = headers

    def __repr__(self) -> str:
        return f"<Response {self.status} {self.text[:300]!r}>"


def with_key(path: str, function_key: str, system_key: str) -> str:
    """``path`` with the key its route needs as ``code`` (none for the ack route)."""
    key = ""
    if path.startswith(WEBHOOK):
        key = system_key
    elif path.startswith("/api/") and not path.startswith("/api/acks/"):
        key = function_key
    if not key or "code=" in path:
        return path
    return f"{path}{'&' if '?' in path else '?'}code={quote(key, safe='')}"


class DurableClient:
    """``function_key`` / ``system_key``: added as ``code`` to the app's function-level routes /
    the Durable HTTP API (a host that enforces keys, e.g. in Azure); the ack route needs none."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        *,
        function_key: str = "",
        system_key: str = "",
    ) -> None:
        self.session = session
        self.base_url = base_url.rstrip("/")
        self.function_key = function_key
        self.system_key = system_key

    def _with_key(self, path: str) -> str:
        return with_key(path, self.function_key, self.system_key)

    # -- raw -----------------------------------------------------------------------------------
    async def request(
        self,
        method: str,
        path: str,
        *,
        data: bytes | str | None = None,
        json_body: Any = None,
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
    ) -> Response:
        kwargs: dict[str, Any] = {"headers": headers, "params": params}
        if json_body is not None:
            kwargs["json"] = json_body
        elif isinstance(data, bytes) and len(data) > 1024 * 1024:
            kwargs["data"] = io.BytesIO(data)  # aiohttp warns about large raw bodies
        elif data is not None:
            kwargs["data"] = data
        # encoded=True: the caller's path goes on the wire exactly as written.
        url = URL(self.base_url + self._with_key(path), encoded=True)
        async with self.session.request(method, url, **kwargs) as response:
            text = await response.text()
            body: Any = None
            if text:
                try:
                    body = json.loads(text)
                except ValueError:
                    body = None
            return Response(response.status, body, text, response.headers)

    # -- starters ------------------------------------------------------------------------------
    async def start_sync(
        self, body: dict[str, Any] | None = None, instance_id: str | None = None
    ) -> Response:
        return await self._start("/api/start-sub-orchestration", body, instance_id)

    async def cancel_run(self, instance_id: str, body: Any = None) -> Response:
        """``POST /api/runs/{id}/cancel``: terminate the parent and every active child."""
        return await self.request(
            "POST", f"/api/runs/{quote_id(instance_id)}/cancel", json_body=body or {}
        )

    async def start_devices(
        self, body: dict[str, Any] | None = None, instance_id: str | None = None
    ) -> Response:
        return await self._start("/api/provision-devices", body, instance_id)

    async def _start(self, path: str, body: Any, instance_id: str | None) -> Response:
        params = {"instanceId": instance_id} if instance_id else None
        return await self.request("POST", path, json_body=body or {}, params=params)

    # -- Durable HTTP API ----------------------------------------------------------------------
    async def status(
        self, instance_id: str, *, history: bool = False, history_output: bool = False
    ) -> Response:
        query = []
        if history:
            query.append("showHistory=true")
        if history_output:
            query.append("showHistoryOutput=true")
        suffix = ("?" + "&".join(query)) if query else ""
        return await self.request("GET", f"{WEBHOOK}/instances/{quote_id(instance_id)}{suffix}")

    async def list_prefix(self, prefix: str, *, top: int = 1000) -> list[dict[str, Any]]:
        """Every instance whose id starts with ``prefix`` (follows continuation tokens)."""
        items: list[dict[str, Any]] = []
        token = ""
        while True:
            headers = {"x-ms-continuation-token": token} if token else None
            response = await self.request(
                "GET",
                f"{WEBHOOK}/instances",
                params={"instanceIdPrefix": prefix, "top": str(top), "showInput": "false"},
                headers=headers,
            )
            if response.status != 200:
                raise AssertionError(f"list by prefix {prefix!r} answered {response}")
            items.extend(response.body)
            token = response.headers.get("x-ms-continuation-token", "")
            if not token:
                return items

    async def raise_event(
        self, instance_id: str, payload: Any, event: str = ACK_EVENT, *, base: str = WEBHOOK
    ) -> Response:
        """Raise an event the way a device does: the payload as the raw JSON body."""
        return await self.request(
            "POST",
            f"{base}/instances/{quote_id(instance_id)}/raiseEvent/{event}",
            data=json.dumps(payload),
            headers={"Content-Type": "application/json"},
        )

    async def raise_event_like_sdk(
        self, instance_id: str, payload: Any, event: str = ACK_EVENT
    ) -> Response:
        """As ``DurableOrchestrationClient.raise_event`` does: RPC surface, body = JSON of
        ``json.dumps(payload)`` (the payload double-encoded)."""
        return await self.request(
            "POST",
            f"{RPC}/instances/{quote_id(instance_id)}/raiseEvent/{event}",
            data=json.dumps(json.dumps(payload)),
            headers={"Content-Type": "application/json"},
        )

    async def post(self, instance_id: str, operation: str, reason: str = "e2e") -> Response:
        """terminate / suspend / resume / rewind."""
        return await self.request(
            "POST",
            f"{WEBHOOK}/instances/{quote_id(instance_id)}/{operation}",
            params={"reason": reason},
        )

    async def purge(self, instance_id: str) -> Response:
        return await self.request("DELETE", f"{WEBHOOK}/instances/{quote_id(instance_id)}")

    # -- waiting -------------------------------------------------------------------------------
    async def wait_for(
        self,
        instance_id: str,
        statuses: frozenset[str] | set[str] = TERMINAL,
        *,
        timeout: float = 30.0,
        interval: float = 0.05,
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        last: Response | None = None
        while True:
            last = await self.status(instance_id)
            if last.status in (200, 202) and last.body["runtimeStatus"] in statuses:
                result: dict[str, Any] = last.body
                return result
            if time.monotonic() >= deadline:
                raise AssertionError(
                    f"{instance_id} not in {sorted(statuses)} after {timeout} s: {last}"
                )
            await asyncio.sleep(interval)

    async def wait_for_stage(
        self, instance_id: str, stage: str, *, timeout: float = 30.0
    ) -> dict[str, Any]:
        """Wait until the instance's custom status has ``stage`` (e.g. ``awaiting_ack``)."""
        deadline = time.monotonic() + timeout
        while True:
            response = await self.status(instance_id)
            if response.status in (200, 202):
                custom = response.body.get("customStatus") or {}
                if isinstance(custom, dict) and custom.get("stage") == stage:
                    result: dict[str, Any] = response.body
                    return result
            if time.monotonic() >= deadline:
                raise AssertionError(f"{instance_id} never reached stage {stage!r}: {response}")
            await asyncio.sleep(0.05)


def history_events(status: dict[str, Any], event_type: str, name: str | None = None) -> list[Any]:
    """Rows of ``historyEvents`` of one type (and name)."""
    return [
        row
        for row in status.get("historyEvents") or []
        if row.get("EventType") == event_type and (name is None or row.get("Name") == name)
    ]
