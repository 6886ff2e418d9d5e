"""What one episode changes: the commit the engine decides and the store applies atomically."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from durable_local.engine.events import Event
from durable_local.model import InstanceRecord, RuntimeStatus


@dataclass
class ChildStart:
    """A sub-orchestration to create in the same transaction as its parent's episode."""

    record: InstanceRecord
    start_event: Event
    task_id: int


@dataclass
class OutboundMessage:
    """An event for another instance (or a timer for this one, visible at its fire time)."""

    instance_id: str
    event: Event
    execution_id: str | None = None
    visible_at: datetime | None = None


@dataclass(slots=True)
class ActivityRequest:
    """An activity the episode scheduled: a work item for the worker."""

    task_id: int
    name: str
    input_json: str | None


@dataclass
class EpisodeCommit:
    """Everything one episode changes, applied atomically by ``Store.commit_episode``."""

    appended: list[Event]
    consumed: list[int]
    status: RuntimeStatus
    updated: datetime
    custom_status: str | None = None
    custom_status_changed: bool = False
    output: str | None = None
    failure_details: str | None = None
    finished: bool = False
    activities: list[ActivityRequest] = field(default_factory=list)
    messages: list[OutboundMessage] = field(default_factory=list)
    children: list[ChildStart] = field(default_factory=list)
    # ContinueAsNew: a fresh history for a new execution, started by this ExecutionStarted.
    new_execution_id: str | None = None
    new_execution_start: Event | None = None
    new_input_json: str | None = None
    # ``appended`` as stored (engine.events.played_text), when the caller has them already.
    appended_texts: list[str] | None = None
    # Lease the new activities at once to this owner until this time (the dispatcher that
    # scheduled them runs them): commit_episode returns them as claim_activities would.
    lease_owner: str | None = None
    lease_until: datetime | None = None

    @property
    def ends_execution(self) -> bool:
        """The execution is over: finished, or continued as new."""
        return self.finished or self.new_execution_id is not None
