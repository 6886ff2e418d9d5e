"""Continuation tokens of instance queries: an opaque, URL-safe (created time, instance id)."""

from __future__ import annotations

import base64
import json
from datetime import datetime

from durable_local.store.sqlite_schema import from_micros, to_micros


def encode_continuation(created: datetime, instance_id: str) -> str:
    raw = json.dumps([to_micros(created), instance_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_continuation(token: str) -> tuple[datetime, str]:
    """Raises ValueError for a token this store did not make."""
    try:
        padded = token + "=" * (-len(token) % 4)
        created, instance_id = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(created, int) or not isinstance(instance_id, str):
            raise ValueError
        return from_micros(created), instance_id  # a time out of range is not ours either
    except Exception:
        raise ValueError(f"'{token[:100]}' is not a valid continuation token") from None
