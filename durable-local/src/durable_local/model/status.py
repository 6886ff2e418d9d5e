"""Instance statuses: the runtime status the host and the SDK spell (spec §5.3), and the DTFx
``OrchestrationStatus`` numbers stored in history (one table for both directions)."""

from __future__ import annotations

import enum


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


class DtfxStatus(enum.IntEnum):
    """DTFx ``OrchestrationStatus`` as stored in ``ExecutionCompleted.OrchestrationStatus``
    (DTFX OrchestrationStatus.cs); ``historyEvents`` render it by name."""

    RUNNING = 0
    COMPLETED = 1
    CONTINUED_AS_NEW = 2
    FAILED = 3
    CANCELED = 4
    TERMINATED = 5
    PENDING = 6
    SUSPENDED = 7

    @property
    def display_name(self) -> str:
        """The name the extension's JSON shows (``ContinuedAsNew``, not ``CONTINUED_AS_NEW``)."""
        return "".join(part.capitalize() for part in self.name.split("_"))
