"""Planning an episode: which pending messages become new history events (spec §2.2, §7.8,
§7.9), and whether the orchestrator runs."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from durable_local.engine import events as ev
from durable_local.engine.events import Event
from durable_local.model import EventType, ParentLink, RuntimeStatus


@dataclass
class InstanceState:
    """What the engine needs to know of an instance besides its history."""

    instance_id: str
    name: str
    execution_id: str
    status: RuntimeStatus
    parent: ParentLink | None = None
    # When the instance last changed: a finished instance that only discards late messages
    # keeps it (§2.2).
    last_updated: datetime | None = None


@dataclass(frozen=True)
class Message:
    """A pending message: an event for the instance (for one execution, or any when None)."""

    message_id: int
    event: Event
    execution_id: str | None = None
    text: str | None = None  # the event's JSON as queued, when the store has it


@dataclass
class EpisodePlan:
    """The episode's new events (with their queued JSON where the store had it), the messages
    it consumes, and whether the orchestrator runs."""

    new_events: list[Event]
    consumed: list[int]
    invoke_orchestrator: bool
    status: RuntimeStatus
    terminated_reason: str | None = None
    terminated: bool = False
    new_texts: list[str | None] = field(default_factory=list)


def plan_episode(
    state: InstanceState, history_is_empty: bool, messages: list[Message], now: datetime
) -> EpisodePlan:
    """Turn pending messages into this episode's new events (spec §2.2, §7.8, §7.9)."""
    new_events: list[Event] = [ev.new_orchestrator_started(now)]
    new_texts: list[str | None] = [None]
    consumed: list[int] = []
    status = state.status
    started = not history_is_empty
    terminated = False
    terminated_reason: str | None = None
    # ExecutionStarted moves first (DTFx EnsureExecutionStartedIsFirst).
    ordered = sorted(
        messages,
        key=lambda m: (m.event["EventType"] != EventType.EXECUTION_STARTED, m.message_id),
    )
    for message in ordered:
        consumed.append(message.message_id)
        event = message.event
        kind = event["EventType"]
        if message.execution_id is not None and message.execution_id != state.execution_id:
            continue  # for another execution (DTFx ReconcileMessagesWithState)
        if status.is_terminal or terminated:
            continue  # terminal instances discard their messages
        if kind == EventType.EXECUTION_STARTED:
            if started:
                continue  # duplicate ExecutionStarted
            started = True
            status = RuntimeStatus.RUNNING
        elif kind == EventType.EXECUTION_TERMINATED:
            terminated = True
            terminated_reason = event.get("Input")
        elif kind == EventType.EXECUTION_SUSPENDED:
            if status == RuntimeStatus.SUSPENDED:
                continue
            status = RuntimeStatus.SUSPENDED
        elif kind == EventType.EXECUTION_RESUMED:
            if status != RuntimeStatus.SUSPENDED:
                continue
            status = RuntimeStatus.RUNNING
        new_events.append(event)
        new_texts.append(message.text)
    invoke = started and not terminated and status == RuntimeStatus.RUNNING
    starts_execution = history_is_empty and started
    if not invoke and not terminated and not starts_execution:
        # Nothing for the orchestrator to see: record without an episode boundary (but a
        # history always opens with OrchestratorStarted, ExecutionStarted: spec §1).
        new_events = new_events[1:]
        new_texts = new_texts[1:]
    return EpisodePlan(
        new_events=new_events,
        consumed=consumed,
        invoke_orchestrator=invoke,
        status=status,
        terminated=terminated,
        terminated_reason=terminated_reason,
        new_texts=new_texts,
    )
