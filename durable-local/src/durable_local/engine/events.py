"""Factories for DTFx history events, in the JSON shape the extension sends the SDK (spec §1, §2).

Events are plain dicts with DTFx's PascalCase keys and ``EventType`` as an int. Each factory is
named after the event it makes. ``IsPlayed`` is always ``False`` here: the store flips it when
an event becomes past history (spec §2.4).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from durable_local.model import DtfxStatus, EventType, format_event_time

Event = dict[str, Any]


# json.dumps builds a new C encoder on every call, which is half its cost for an event; one
# encoder with json.dumps' defaults (ensure_ascii, allow_nan, ", " and ": ") gives the same text.
_make_encoder: Any = getattr(json.encoder, "c_make_encoder", None)
_string: Any = json.encoder.encode_basestring_ascii
_ENCODER: Any = (
    None
    if _make_encoder is None  # no C accelerator (another interpreter)
    else _make_encoder(None, json.JSONEncoder().default, _string, None, ": ", ", ", 0, 0, 1)
)


def event_json(event: Event) -> str:
    """``json.dumps(event)``, faster: events are encoded several times per activity."""
    text = _activity_event_json(event)
    if text is not None:
        return text
    if _ENCODER is None:
        return json.dumps(event)
    return "".join(_ENCODER(event, 0))


# The two events written once per activity, as json.dumps writes them, filled in by a format
# string (twice as fast as the encoder) when the event is exactly what the factories below make.
_SCHEDULED_KEYS = frozenset(
    ("EventType", "EventId", "IsPlayed", "Timestamp", "Name", "Version", "Input", "Tags")
)
_SCHEDULED = (
    '{"EventType": 4, "EventId": %d, "IsPlayed": %s, "Timestamp": %s, "Name": %s, '
    '"Version": "", "Input": %s, "Tags": null}'
)
_COMPLETED_KEYS = frozenset(
    ("EventType", "EventId", "IsPlayed", "Timestamp", "TaskScheduledId", "Result")
)
_COMPLETED = (
    '{"EventType": 5, "EventId": %d, "IsPlayed": %s, "Timestamp": %s, "TaskScheduledId": %d, '
    '"Result": %s}'
)


def _activity_event_json(event: Event, played: Any = None) -> str | None:
    """The text of a TaskScheduled or TaskCompleted event (with IsPlayed = ``played`` if given);
    None for any other event, or one whose fields are not of the factories' types."""
    kind = event.get("EventType")
    if type(kind) is not int or type(event["EventId"]) is not int:
        return None
    if played is None:
        played = event["IsPlayed"]
    timestamp = event["Timestamp"]
    if type(played) is not bool or type(timestamp) is not str or _ENCODER is None:
        return None
    if kind == EventType.TASK_COMPLETED and event.keys() == _COMPLETED_KEYS:
        task_id, result = event["TaskScheduledId"], event["Result"]
        if type(task_id) is int and (result is None or type(result) is str):
            return _COMPLETED % (
                event["EventId"],
                "true" if played else "false",
                _string(timestamp),
                task_id,
                "null" if result is None else _string(result),
            )
    elif kind == EventType.TASK_SCHEDULED and event.keys() == _SCHEDULED_KEYS:
        name, version, data = event["Name"], event["Version"], event["Input"]
        if type(name) is str and version == "" and type(data) is str and event["Tags"] is None:
            return _SCHEDULED % (
                event["EventId"],
                "true" if played else "false",
                _string(timestamp),
                _string(name),
                _string(data),
            )
    return None


_HEADER = '{"EventType": '
_UNPLAYED = '"IsPlayed": false'


def played_text(event: Event, text: str | None = None) -> str:
    """An event as kept in history: played, except OrchestratorStarted (spec §2.4).

    ``text`` is the event's JSON as it was queued (unplayed), when known: its flag is flipped
    in place instead of encoding the event again. Events made here open with EventType,
    EventId (numbers) and IsPlayed, so the first match in that header is the flag itself (a
    match inside a string value is impossible: its quotes would be escaped).
    """
    played = event["EventType"] != EventType.ORCHESTRATOR_STARTED
    if text is not None and text.startswith(_HEADER):
        at = text.find(_UNPLAYED, 0, 64)
        if at != -1:
            if not played:
                return text
            return text[:at] + '"IsPlayed": true' + text[at + len(_UNPLAYED) :]
    return _activity_event_json(event, played) or event_json({**event, "IsPlayed": played})


def _event(kind: EventType, when: datetime, event_id: int = -1, **fields: Any) -> Event:
    event: Event = {
        "EventType": int(kind),
        "EventId": event_id,
        "IsPlayed": False,
        "Timestamp": format_event_time(when),
    }
    event.update(fields)
    return event


def new_orchestrator_started(when: datetime) -> Event:
    return _event(EventType.ORCHESTRATOR_STARTED, when)


def new_orchestrator_completed(when: datetime) -> Event:
    return _event(EventType.ORCHESTRATOR_COMPLETED, when)


def new_execution_started(
    when: datetime,
    *,
    instance_id: str,
    execution_id: str,
    name: str,
    input_json: str | None,
    parent: dict[str, Any] | None = None,
    generation: int = 0,
    version: str = "",
) -> Event:
    return _event(
        EventType.EXECUTION_STARTED,
        when,
        OrchestrationInstance={"InstanceId": instance_id, "ExecutionId": execution_id},
        ParentInstance=parent,
        Name=name,
        Version=version,  # the SDK requires the key (spec §1); context.version reads it
        Input=input_json,
        Tags=None,
        Correlation=None,
        ScheduledStartTime=None,
        Generation=generation,
    )


def new_parent_instance(
    *, name: str, task_id: int, instance_id: str, execution_id: str
) -> dict[str, Any]:
    """The ``ParentInstance`` of a sub-orchestration's ExecutionStarted (spec §7.7)."""
    return {
        "Name": name,
        "Version": "",
        "TaskScheduleId": task_id,
        "OrchestrationInstance": {"InstanceId": instance_id, "ExecutionId": execution_id},
    }


def new_execution_completed(
    when: datetime, *, status: int, result: str | None, failure_details: Any = None
) -> Event:
    return _event(
        EventType.EXECUTION_COMPLETED,
        when,
        OrchestrationStatus=status,
        Result=result,
        FailureDetails=failure_details,
    )


def new_execution_terminated(when: datetime, reason: str | None) -> Event:
    return _event(EventType.EXECUTION_TERMINATED, when, Input=reason)


def new_execution_suspended(when: datetime, reason: str | None) -> Event:
    return _event(EventType.EXECUTION_SUSPENDED, when, Reason=reason)


def new_execution_resumed(when: datetime, reason: str | None) -> Event:
    return _event(EventType.EXECUTION_RESUMED, when, Reason=reason)


def new_execution_rewound(when: datetime, reason: str | None) -> Event:
    return _event(EventType.EXECUTION_REWOUND, when, Reason=reason)


def new_continue_as_new(when: datetime, result: str | None) -> Event:
    return _event(
        EventType.CONTINUE_AS_NEW,
        when,
        OrchestrationStatus=int(DtfxStatus.CONTINUED_AS_NEW),
        Result=result,
        FailureDetails=None,
    )


def new_task_scheduled(when: datetime, task_id: int, name: str, input_json: str | None) -> Event:
    # Written out (not through _event): one per activity. DTFx serialises the activity's
    # params object[]: a one-element JSON array (spec §4.1).
    return {
        "EventType": _TASK_SCHEDULED,
        "EventId": task_id,
        "IsPlayed": False,
        "Timestamp": format_event_time(when),
        "Name": name,
        "Version": "",
        "Input": "[null]" if input_json is None else f"[{_string(input_json)}]",
        "Tags": None,
    }


def new_task_completed(when: datetime, task_id: int, result: str | None) -> Event:
    return {  # written out, as new_task_scheduled
        "EventType": _TASK_COMPLETED,
        "EventId": -1,
        "IsPlayed": False,
        "Timestamp": format_event_time(when),
        "TaskScheduledId": task_id,
        "Result": result,
    }


_TASK_SCHEDULED = int(EventType.TASK_SCHEDULED)
_TASK_COMPLETED = int(EventType.TASK_COMPLETED)


def new_task_failed(when: datetime, task_id: int, reason: str, details: str | None) -> Event:
    return _event(
        EventType.TASK_FAILED,
        when,
        TaskScheduledId=task_id,
        Reason=reason,
        Details=details,
        FailureDetails=None,
    )


def new_sub_orchestration_created(
    when: datetime,
    task_id: int,
    name: str,
    instance_id: str,
    input_json: str | None,
    version: str = "",
) -> Event:
    return _event(
        EventType.SUB_ORCHESTRATION_INSTANCE_CREATED,
        when,
        task_id,
        Name=name,
        Version=version,
        InstanceId=instance_id,
        Input=input_json,
    )


def new_sub_orchestration_completed(when: datetime, task_id: int, result: str | None) -> Event:
    return _event(
        EventType.SUB_ORCHESTRATION_INSTANCE_COMPLETED, when, TaskScheduledId=task_id, Result=result
    )


def new_sub_orchestration_failed(
    when: datetime, task_id: int, reason: str | None, details: str | None
) -> Event:
    return _event(
        EventType.SUB_ORCHESTRATION_INSTANCE_FAILED,
        when,
        TaskScheduledId=task_id,
        Reason=reason,
        Details=details,
        FailureDetails=None,
    )


def new_timer_created(when: datetime, timer_id: int, fire_at: datetime) -> Event:
    return _event(EventType.TIMER_CREATED, when, timer_id, FireAt=format_event_time(fire_at))


def new_timer_fired(when: datetime, timer_id: int, fire_at: str) -> Event:
    return _event(EventType.TIMER_FIRED, when, TimerId=timer_id, FireAt=fire_at)


def new_event_raised(when: datetime, name: str, input_json: str | None) -> Event:
    return _event(EventType.EVENT_RAISED, when, Name=name, Input=input_json)


def new_generic_event(when: datetime, data: str) -> Event:
    return _event(EventType.GENERIC_EVENT, when, Data=data)


def execution_version(events: list[Event]) -> str:
    """The orchestration's version: its ExecutionStarted's ``Version`` ("" when none)."""
    for event in events:
        if event["EventType"] == EventType.EXECUTION_STARTED:
            return str(event.get("Version") or "")
    return ""
