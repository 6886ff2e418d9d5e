"""Time formats: DTFx history timestamps, status-object times, and ISO-8601 parsing."""

from __future__ import annotations

import functools
from datetime import UTC, datetime


@functools.lru_cache(maxsize=256)
def format_event_time(value: datetime) -> str:
    """DTFx/Newtonsoft history timestamp: ISO-8601 UTC with 7 fractional digits and ``Z``.

    Cached: an episode stamps all its events (a fan-out's thousands of TaskScheduled) and a
    batch of activity results with one time.
    """
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


def format_status_time(value: datetime) -> str:
    """Status-object time (``ToString("s") + "Z"``, spec §6): no fractional seconds."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> datetime:
    """Parse an ISO-8601 timestamp (``Z`` or offset; naive means UTC) to an aware UTC datetime.

    Raises ``ValueError`` with the offending text when it is not a timestamp.
    """
    raw = text.strip()
    if raw.endswith(("Z", "z")):
        raw = raw[:-1] + "+00:00"
    # Python 3.11 fromisoformat accepts at most 6 fractional digits: trim .NET's 7th.
    if "." in raw:
        head, _, tail = raw.partition(".")
        digits = ""
        rest = tail
        while rest and rest[0].isdigit():
            digits += rest[0]
            rest = rest[1:]
        raw = f"{head}.{digits[:6]}{rest}" if digits else head + rest
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        raise ValueError(f"'{text}' is not an ISO-8601 timestamp") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)
