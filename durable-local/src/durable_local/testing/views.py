"""Typed views of what the runtime recorded: history events, activity calls, instance status.

The store keeps history as the Durable Task Framework does (PascalCase JSON, payloads as JSON
text). Tests want values: these views parse each payload once, so ``input`` and ``result`` are
what the orchestrator and the activity saw, and keep the raw event for anything else.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from durable_local.engine.orchestration.render import status_of
from durable_local.model import EventType, InstanceRecord, RuntimeStatus, parse_time

_COMPLETIONS = {"TaskCompleted", "TaskFailed"}


def _pascal(event_type: EventType) -> str:
    return "".join(part.capitalize() for part in event_type.name.split("_"))


def _parse_json(text: Any) -> Any:
    """A JSON text parsed once; anything that is not JSON text is returned as it is."""
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text


def _parse_time(text: Any) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    return parse_time(text)


def _activity_input(text: Any) -> Any:
    """TaskScheduled.Input is a JSON array of one JSON text per argument (the SDK sends one)."""
    values = _parse_json(text)
    if not isinstance(values, list):
        return values
    parsed = [_parse_json(value) for value in values]
    return parsed[0] if len(parsed) == 1 else parsed


@dataclass(frozen=True)
class HistoryEvent:
    """One history event of an instance, its payloads parsed.

    ``type`` is the DTFx event type name (``"TaskScheduled"``, ``"TimerFired"``, ...);
    ``event_id`` the sequence number of scheduling events (-1 elsewhere); ``name`` the
    activity, sub-orchestrator, orchestrator or external event name; ``input`` the input as the
    callee received it; ``result`` the output of a completion; ``task_id`` the ``EventId`` a
    completion or fired timer answers; ``fire_at`` a timer's due time; ``reason`` and
    ``details`` of failures; ``raw`` the event as stored.
    """

    type: str
    timestamp: datetime | None
    event_id: int
    name: str | None = None
    input: Any = None
    result: Any = None
    task_id: int | None = None
    fire_at: datetime | None = None
    reason: str | None = None
    details: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_stored(cls, event: dict[str, Any]) -> HistoryEvent:
        """The view of one stored event (a DTFx history event as JSON)."""
        kind = EventType(event["EventType"])
        if kind == EventType.TASK_SCHEDULED:
            value = _activity_input(event.get("Input"))
        else:
            value = _parse_json(event.get("Input"))
        task_id = event.get("TaskScheduledId", event.get("TimerId"))
        return cls(
            type=_pascal(kind),
            timestamp=_parse_time(event.get("Timestamp")),
            event_id=int(event.get("EventId", -1)),
            name=event.get("Name"),
            input=value,
            result=_parse_json(event.get("Result")),
            task_id=None if task_id is None else int(task_id),
            fire_at=_parse_time(event.get("FireAt")),
            reason=event.get("Reason"),
            details=event.get("Details"),
            raw=event,
        )


@dataclass(frozen=True)
class ActivityCall:
    """One scheduled call of an activity, as history recorded it.

    ``completed`` is False while the call is pending; then ``failed`` tells a TaskFailed
    (``reason``, ``details``) from a TaskCompleted (``result``). ``input`` is the value the
    activity function received.
    """

    instance_id: str
    name: str
    input: Any
    completed: bool = False
    failed: bool = False
    result: Any = None
    reason: str | None = None
    details: str | None = None
    scheduled_at: datetime | None = None
    completed_at: datetime | None = None


def activity_calls_in(
    instance_id: str, events: list[HistoryEvent], name: str | None = None
) -> list[ActivityCall]:
    """The activity calls of one instance's history, in scheduling order; ``name`` filters
    (ignoring case, as the host matches function names)."""
    calls: dict[int, ActivityCall] = {}
    for event in events:
        if event.type == "TaskScheduled":
            if name is None or (event.name or "").lower() == name.lower():
                calls[event.event_id] = ActivityCall(
                    instance_id=instance_id,
                    name=event.name or "",
                    input=event.input,
                    scheduled_at=event.timestamp,
                )
        elif event.type in _COMPLETIONS and event.task_id in calls:
            call = calls[event.task_id]
            calls[event.task_id] = ActivityCall(
                instance_id=call.instance_id,
                name=call.name,
                input=call.input,
                completed=True,
                failed=event.type == "TaskFailed",
                result=event.result,
                reason=event.reason,
                details=event.details,
                scheduled_at=call.scheduled_at,
                completed_at=event.timestamp,
            )
    return list(calls.values())


@dataclass(frozen=True)
class InstanceStatus:
    """An instance's status as the Durable HTTP API reports it, with typed fields.

    ``input`` is the stored input parsed once (an input sent through the SDK client's
    ``start_new`` is JSON text, as the SDK double-encodes it); ``output`` and ``custom_status``
    are parsed; ``raw`` is the status object of the HTTP API.
    """

    instance_id: str
    name: str
    runtime_status: RuntimeStatus
    input: Any
    output: Any
    custom_status: Any
    created_time: datetime | None
    last_updated_time: datetime | None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_status_object(cls, status: dict[str, Any]) -> InstanceStatus:
        """The view of a status object (``DurableRuntime.get_status``)."""
        return cls(
            instance_id=status["instanceId"],
            name=status["name"],
            runtime_status=RuntimeStatus(status["runtimeStatus"]),
            input=status.get("input"),
            output=status.get("output"),
            custom_status=status.get("customStatus"),
            created_time=_parse_time(status.get("createdTime")),
            last_updated_time=_parse_time(status.get("lastUpdatedTime")),
            raw=status,
        )

    @classmethod
    def from_record(cls, record: InstanceRecord) -> InstanceStatus:
        """The status of a stored instance, rendered as the Durable HTTP API renders it."""
        return cls.from_status_object(status_of(record))
