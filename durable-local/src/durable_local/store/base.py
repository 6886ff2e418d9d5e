"""Persistence: the ``Store`` protocol and the records it trades in.

A store keeps instances, their history (current execution), an inbox of messages per instance
(events, completions, timers as messages that become visible at their fire time) and activity
work items. Work is claimed under a lease, so a crash loses nothing; an episode's whole outcome
is committed in one transaction (``commit_episode``).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from durable_local.engine.commit import EpisodeCommit
from durable_local.engine.events import Event
from durable_local.engine.orchestration.plan import Message
from durable_local.model import InstanceRecord, QueryFilter, RuntimeStatus


class InstanceExistsError(Exception):
    """``create_instance`` over an instance that is still active (carries its status)."""

    def __init__(self, status: RuntimeStatus) -> None:
        super().__init__(status.value)
        self.status = status


class LeaseLost(Exception):
    """The work item's lease expired and another worker may own it: nothing was committed."""


@dataclass
class OrchestrationWorkItem:
    """An instance claimed for one episode, with its visible messages, under a lease."""

    instance: InstanceRecord
    messages: list[Message]
    lock_token: str


@dataclass(slots=True)
class ActivityWorkItem:
    """An activity claimed (leased) for the worker: who scheduled it and with what input."""

    item_id: int
    instance_id: str
    execution_id: str
    task_id: int
    name: str
    input_json: str | None
    lock_token: str
    dequeue_count: int = 1


class Store(Protocol):
    """Where instances, histories, messages and activity work items live; ``sqlite`` is the
    implementation (a file, or ``:memory:``), and one contract suite tests it."""

    def create_instance(self, record: InstanceRecord, start_event: Event) -> None:
        """Create (or replace a terminal) instance and queue its ExecutionStarted.

        Raises InstanceExistsError when the instance exists and is not terminal.
        """
        ...

    def get_instance(self, instance_id: str) -> InstanceRecord | None: ...

    def load_history(self, instance_id: str, start: int = 0) -> list[str]:
        """Stored event JSON texts of the current execution from position ``start`` on."""
        ...

    def enqueue(
        self,
        instance_id: str,
        event: Event,
        *,
        execution_id: str | None = None,
    ) -> None:
        """Queue an event for an instance (visible at once)."""
        ...

    def pending_event_types(self, instance_id: str) -> set[int]:
        """The EventTypes of the messages queued for an instance."""
        ...

    def set_status(self, instance_id: str, status: RuntimeStatus, updated: datetime) -> None: ...

    def claim_orchestration(
        self,
        owner: str,
        now: datetime,
        lease_seconds: float,
        exclude: Collection[str] = (),
    ) -> OrchestrationWorkItem | None:
        """Lease one instance with visible messages, skipping the instances in ``exclude``.

        Suspended instances are claimed too: their events are recorded in history, as DTFx
        records what arrives during a suspension (the engine runs no orchestrator code)."""
        ...

    def commit_episode(
        self, item: OrchestrationWorkItem, commit: EpisodeCommit
    ) -> list[ActivityWorkItem]:
        """Apply an episode atomically and release the lease. Raises LeaseLost.

        Returns the new activities as leased work items when ``commit.lease_owner`` is set
        (else none: they wait for claim_activities).
        """
        ...

    def release_orchestration(self, item: OrchestrationWorkItem) -> None: ...

    def claim_activities(
        self, owner: str, now: datetime, lease_seconds: float, limit: int
    ) -> list[ActivityWorkItem]: ...

    def complete_activities(self, results: list[tuple[ActivityWorkItem, Event]]) -> None:
        """Delete finished work items and queue their completion events, in one transaction."""
        ...

    def release_activity(self, item: ActivityWorkItem) -> None: ...

    def next_visible_at(self, now: datetime) -> datetime | None:
        """The earliest future time at which a queued message (a timer) becomes visible."""
        ...

    def has_ready_work(self, now: datetime, exclude: Collection[str] = ()) -> bool:
        """Whether any message is visible (for an instance not in ``exclude``) or any activity
        is queued (leased or not)."""
        ...

    def query(
        self, query: QueryFilter, limit: int, after: tuple[datetime, str] | None
    ) -> list[InstanceRecord]: ...

    def purge(self, instance_id: str) -> bool: ...

    def purge_by(self, query: QueryFilter) -> int: ...

    def rewind_instance(
        self, instance_id: str, events: list[Event], trigger: Event, updated: datetime
    ) -> None:
        """Atomically replace the history (rewritten by the engine), mark the instance Running
        and queue ``trigger`` so an episode replays it."""
        ...

    def problem(self) -> str | None:
        """Why the store cannot take work now (deleted, unwritable, full), or None."""
        ...

    def release_all_leases(self) -> None:
        """Forget every lease: the runtime that held them is gone (called at start)."""
        ...

    def get_schedule_status(self, function_name: str) -> str | None:
        """A timer function's schedule status (JSON: Last, Next, LastUpdated), if kept."""
        ...

    def set_schedule_status(self, function_name: str, status_json: str) -> None:
        """Keep a timer function's schedule status (the host's ``useMonitor``)."""
        ...

    def close(self) -> None: ...
