"""Rewind of a failed instance (spec §7.8): replay it again from before its first failure.

The Azure Storage provider rewrites the failed rows in place (TaskFailed, their TaskScheduled,
the failed ExecutionCompleted) as GenericEvents. That leaves the timers of a failed
``call_activity_with_retry`` chain in history, which a replay can no longer match. So the
history is cut just before the first failure instead; work scheduled before the cut whose
result came after it loses its scheduling row too, so the replay schedules it again
(activities are at-least-once anyway). A failed sub-orchestration keeps its creation row and
is rewound in turn: when it completes, it reports to the same task id.
"""

from __future__ import annotations

from collections.abc import Callable

from durable_local.engine.events import Event
from durable_local.model import COMPLETION_EVENTS, DtfxStatus, EventType

_FAILURES = {EventType.TASK_FAILED, EventType.SUB_ORCHESTRATION_INSTANCE_FAILED}


def _cut_index(events: list[Event]) -> int:
    for index, event in enumerate(events):
        kind = event["EventType"]
        if kind in _FAILURES or (
            kind == EventType.EXECUTION_COMPLETED
            and event.get("OrchestrationStatus") == DtfxStatus.FAILED
        ):
            return index
    return len(events)


def _result_key(event: Event) -> tuple[int, int] | None:
    kind = event["EventType"]
    completion = COMPLETION_EVENTS.get(kind)
    if completion is None:
        return None
    key = "TimerId" if kind == EventType.TIMER_FIRED else "TaskScheduledId"
    return int(completion.scheduled_by), int(event.get(key, -1))


def rewind_history(
    events: list[Event], is_failed_child: Callable[[str], bool]
) -> tuple[list[Event], list[str]]:
    """The history to replay from, and the failed children to rewind with it."""
    cut = _cut_index(events)
    kept = events[:cut]
    answered = {key for e in kept if (key := _result_key(e)) is not None}
    rewritten: list[Event] = []
    children: list[str] = []
    for event in kept:
        kind = event["EventType"]
        if (
            kind
            in (
                EventType.TASK_SCHEDULED,
                EventType.TIMER_CREATED,
                EventType.SUB_ORCHESTRATION_INSTANCE_CREATED,
            )
            and (int(kind), int(event["EventId"])) not in answered
        ):
            child = str(event.get("InstanceId") or "")
            if kind == EventType.SUB_ORCHESTRATION_INSTANCE_CREATED and is_failed_child(child):
                children.append(child)  # rewound in place: it answers the same task id
            else:
                continue  # its result was cut off: the replay schedules it again
        rewritten.append(event)
    while rewritten and rewritten[-1]["EventType"] == EventType.ORCHESTRATOR_STARTED:
        rewritten.pop()  # an episode cut before it did anything
    return rewritten, children
