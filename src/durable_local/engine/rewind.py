"""Rewind of a failed instance, as the Azure Storage provider does it (spec §7.8).

Failed activity results and their scheduling rows, failed sub-orchestration results and the
failed ExecutionCompleted become GenericEvents, so the next replay schedules the failed work
again; failed children are rewound in turn and report back with the same task id.
"""

from __future__ import annotations

from durable_local.engine.events import DTFX_STATUS_FAILED, Event
from durable_local.model import EventType


def rewind_history(events: list[Event], reason: str | None) -> tuple[list[Event], list[str]]:
    """The rewritten history and the ids of failed children to rewind."""
    failed_tasks = {e["TaskScheduledId"] for e in events if e["EventType"] == EventType.TASK_FAILED}
    failed_subs = {
        e["TaskScheduledId"]
        for e in events
        if e["EventType"] == EventType.SUB_ORCHESTRATION_INSTANCE_FAILED
    }
    children: list[str] = []
    rewritten: list[Event] = []
    note = f"Rewound: {reason or ''}".rstrip()
    for event in events:
        kind = event["EventType"]
        erase = (
            kind in (EventType.TASK_FAILED, EventType.SUB_ORCHESTRATION_INSTANCE_FAILED)
            or (kind == EventType.TASK_SCHEDULED and event["EventId"] in failed_tasks)
            or (
                kind == EventType.EXECUTION_COMPLETED
                and event.get("OrchestrationStatus") == DTFX_STATUS_FAILED
            )
        )
        if kind == EventType.SUB_ORCHESTRATION_INSTANCE_CREATED and event["EventId"] in failed_subs:
            children.append(str(event.get("InstanceId")))
        if erase:
            rewritten.append(_generic(event["Timestamp"], note))
        else:
            rewritten.append(event)
    return rewritten, children


def _generic(timestamp: str, data: str) -> Event:
    return {
        "EventType": int(EventType.GENERIC_EVENT),
        "EventId": -1,
        "IsPlayed": True,
        "Timestamp": timestamp,
        "Data": data,
    }
