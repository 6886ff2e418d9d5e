"""Status objects and ``showHistory`` rendering as the extension produces them (spec §6)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from durable_local.engine.events import Event
from durable_local.model import (
    COMPLETION_EVENTS,
    DtfxStatus,
    EventType,
    InstanceRecord,
    format_status_time,
)

_HIDDEN = {EventType.ORCHESTRATOR_STARTED, EventType.ORCHESTRATOR_COMPLETED}
_SCHEDULED = {EventType.TASK_SCHEDULED, EventType.SUB_ORCHESTRATION_INSTANCE_CREATED}
# A task's completion is shown merged with the row that scheduled it (timers are not).
_MERGED = {
    kind: completion.scheduled_by
    for kind, completion in COMPLETION_EVENTS.items()
    if completion.scheduled_by in _SCHEDULED
}
_WITH_RESULT = {
    EventType.TASK_COMPLETED,
    EventType.SUB_ORCHESTRATION_INSTANCE_COMPLETED,
    EventType.EXECUTION_COMPLETED,
}


def _dtfx_status_name(status: Any) -> str:
    try:
        return DtfxStatus(status).display_name
    except ValueError:
        return str(status)


def parse_stored_json(text: str | None) -> Any:
    """Stored JSON text parsed; non-JSON text (a terminate reason, an error) stays a string."""
    if text is None:
        return None
    try:
        return json.loads(text)
    except (json.JSONDecodeError, TypeError):
        return text


def _event_name(kind: int) -> str:
    try:
        return "".join(part.capitalize() for part in EventType(kind).name.split("_"))
    except ValueError:
        return str(kind)


def render_history(
    events: list[Event], *, show_output: bool, show_input: bool
) -> list[dict[str, Any]]:
    """``historyEvents`` (EXT DurableClient.GetDurableOrchestrationStatusAsync, spec §6)."""
    scheduled: dict[tuple[int, int], Event] = {}
    rows: list[dict[str, Any]] = []
    for event in events:
        kind = event["EventType"]
        if kind in _HIDDEN:
            continue
        if kind in _SCHEDULED:
            scheduled[(kind, event["EventId"])] = event
            continue
        row: dict[str, Any] = {"EventType": _event_name(kind)}
        for key, value in event.items():
            if key in ("EventType", "EventId", "IsPlayed"):
                continue
            row[key] = value
        if kind == EventType.EXECUTION_STARTED:
            row["FunctionName"] = row.pop("Name", None)
            for key in ("OrchestrationInstance", "ParentInstance", "Version", "Tags"):
                row.pop(key, None)
        if kind in _MERGED:
            origin = scheduled.get((_MERGED[kind], event.get("TaskScheduledId", -1)))
            if origin is not None:
                row["FunctionName"] = origin.get("Name")
                row["ScheduledTime"] = origin.get("Timestamp")
                row["Input"] = origin.get("Input")
        if kind == EventType.TIMER_FIRED:
            row.pop("TimerId", None)
        if kind in (EventType.EXECUTION_COMPLETED, EventType.CONTINUE_AS_NEW):
            status = row.get("OrchestrationStatus")
            if isinstance(status, int):
                row["OrchestrationStatus"] = _dtfx_status_name(status)
        if kind in _WITH_RESULT:
            if show_output:
                row["Result"] = parse_stored_json(row.get("Result"))
            else:
                row.pop("Result", None)
        if not show_input:
            row.pop("Input", None)
        rows.append(row)
    return rows


def render_status(
    *,
    name: str,
    instance_id: str,
    runtime_status: str,
    input_json: str | None,
    custom_status_json: str | None,
    output: str | None,
    created: datetime,
    updated: datetime,
    show_input: bool,
    history: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    status: dict[str, Any] = {
        "name": name,
        "instanceId": instance_id,
        "runtimeStatus": runtime_status,
        "input": parse_stored_json(input_json) if show_input else None,
        "customStatus": parse_stored_json(custom_status_json),
        "output": parse_stored_json(output),
        "createdTime": format_status_time(created),
        "lastUpdatedTime": format_status_time(updated),
    }
    if history is not None:
        status["historyEvents"] = history
    return status


def status_of(
    record: InstanceRecord, show_input: bool = True, history: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """A stored instance's status object, as the Durable HTTP API renders it."""
    return render_status(
        name=record.name,
        instance_id=record.instance_id,
        runtime_status=record.status.value,
        input_json=record.input_json,
        custom_status_json=record.custom_status,
        output=record.output,
        created=record.created,
        updated=record.updated,
        show_input=show_input,
        history=history,
    )
