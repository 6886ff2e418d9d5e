"""Vocabulary shared by every layer: enums mirroring DTFx/the SDK, filters, time formats."""

from __future__ import annotations

import enum
import functools
from dataclasses import dataclass, field
from datetime import UTC, datetime


class RuntimeStatus(enum.StrEnum):
    """Instance runtime status, spelled as the host and the SDK spell it (spec §5.3)."""

    PENDING = "Pending"
    RUNNING = "Running"
    COMPLETED = "Completed"
    CONTINUED_AS_NEW = "ContinuedAsNew"
    FAILED = "Failed"
    CANCELED = "Canceled"
    TERMINATED = "Terminated"
    SUSPENDED = "Suspended"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATUSES


TERMINAL_STATUSES = frozenset(
    {
        RuntimeStatus.COMPLETED,
        RuntimeStatus.FAILED,
        RuntimeStatus.CANCELED,
        RuntimeStatus.TERMINATED,
    }
)
# Statuses that block a new start of the same id (EXT OverridableStates.NonRunningStates, §7.2).
ACTIVE_STATUSES = frozenset(
    {
        RuntimeStatus.PENDING,
        RuntimeStatus.RUNNING,
        RuntimeStatus.CONTINUED_AS_NEW,
        RuntimeStatus.SUSPENDED,
    }
)


class EventType(enum.IntEnum):
    """DTFx history event types (DTFX History/EventType.cs, spec §2.1)."""

    EXECUTION_STARTED = 0
    EXECUTION_COMPLETED = 1
    EXECUTION_FAILED = 2
    EXECUTION_TERMINATED = 3
    TASK_SCHEDULED = 4
    TASK_COMPLETED = 5
    TASK_FAILED = 6
    SUB_ORCHESTRATION_INSTANCE_CREATED = 7
    SUB_ORCHESTRATION_INSTANCE_COMPLETED = 8
    SUB_ORCHESTRATION_INSTANCE_FAILED = 9
    TIMER_CREATED = 10
    TIMER_FIRED = 11
    ORCHESTRATOR_STARTED = 12
    ORCHESTRATOR_COMPLETED = 13
    EVENT_SENT = 14
    EVENT_RAISED = 15
    CONTINUE_AS_NEW = 16
    GENERIC_EVENT = 17
    HISTORY_STATE = 18
    EXECUTION_SUSPENDED = 19
    EXECUTION_RESUMED = 20
    EXECUTION_REWOUND = 21


class ActionType(enum.IntEnum):
    """SDK action types (SDK models/actions/ActionType.py, spec §3.2)."""

    CALL_ACTIVITY = 0
    CALL_ACTIVITY_WITH_RETRY = 1
    CALL_SUB_ORCHESTRATOR = 2
    CALL_SUB_ORCHESTRATOR_WITH_RETRY = 3
    CONTINUE_AS_NEW = 4
    CREATE_TIMER = 5
    WAIT_FOR_EXTERNAL_EVENT = 6
    CALL_ENTITY = 7
    CALL_HTTP = 8
    SIGNAL_ENTITY = 9
    WHEN_ANY = 11
    WHEN_ALL = 12


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


@dataclass(frozen=True)
class QueryFilter:
    """Filter for ``query`` and ``purge_by`` (the list/purge query parameters of spec §6)."""

    created_time_from: datetime | None = None
    created_time_to: datetime | None = None
    runtime_status: frozenset[RuntimeStatus] = field(default_factory=frozenset)
    instance_id_prefix: str | None = None
