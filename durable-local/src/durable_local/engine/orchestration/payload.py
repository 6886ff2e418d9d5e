"""The SDK's side of an episode: the orchestration trigger payload it is given (spec §1) and
the state it returns or raises (spec §3.4)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from durable_local.engine import events as ev
from durable_local.engine.events import Event
from durable_local.model import ActionType

OUT_OF_PROC_MARKER = "\n\n$OutOfProcData$:"


@dataclass
class SdkState:
    """The SDK's orchestrator state after one episode: done or not, its actions, output, error
    and custom status."""

    is_done: bool = False
    actions: list[dict[str, Any]] = field(default_factory=list)
    output: Any = None
    error: str | None = None
    custom_status: Any = None


def build_context_json(
    *,
    past_event_texts: list[str],
    new_events: list[Event],
    new_event_texts: list[str | None] | None = None,
    input_json: str | None,
    instance_id: str,
    parent_instance_id: str | None,
    is_replaying: bool,
) -> str:
    """The orchestration trigger payload of spec §1, as one JSON string.

    ``new_event_texts`` may give the JSON of some new events (their queued text), in order.
    """
    texts = new_event_texts or [None] * len(new_events)
    history = ",".join(
        [
            *past_event_texts,
            *(text or ev.event_json(event) for event, text in zip(new_events, texts, strict=True)),
        ]
    )
    return (
        '{"history":['
        + history
        + '],"input":'
        + (input_json if input_json is not None else "null")
        + ',"instanceId":'
        + json.dumps(instance_id)
        + ',"isReplaying":'
        + ("true" if is_replaying else "false")
        + ',"parentInstanceId":'
        + json.dumps(parent_instance_id)
        + ',"upperSchemaVersion":1,"upperSchemaVersionNew":2'
        + ',"longRunningTimerIntervalDuration":"3.00:00:00"'
        + ',"maximumShortTimerDuration":"6.00:00:00"'
        + ',"defaultHttpAsyncRequestSleepTimeMillseconds":30000}'
    )


def parse_sdk_output(returned: str | None, error: str | None) -> SdkState:
    """Read the SDK handle's result: its return value, or the state inside its exception (§3.4).

    An exception without the ``$OutOfProcData$`` marker becomes an error with no actions.
    """
    if error is not None:
        message, marker, payload = error.partition(OUT_OF_PROC_MARKER)
        if marker:
            try:
                data = json.loads(payload)
            except json.JSONDecodeError:
                return SdkState(error=message)
            state = _state_from_json(data)
            state.error = state.error or message
            return state
        return SdkState(error=error)
    try:
        data = json.loads(returned or "")
    except json.JSONDecodeError:
        return SdkState(error=f"The orchestrator returned invalid JSON: {returned!r:.200}")
    if not isinstance(data, dict):
        return SdkState(error="The orchestrator returned JSON that is not an object.")
    return _state_from_json(data)


def _state_from_json(data: dict[str, Any]) -> SdkState:
    actions = data.get("actions") or []
    if data.get("schemaVersion") in (1, 2):
        flat = actions[0] if actions else []
    else:
        # V1: one inner list per yield; the extension runs them one after another.
        flat = [
            {"actionType": ActionType.WHEN_ALL.value, "compoundActions": group}
            if len(group) > 1
            else group[0]
            for group in actions
            if group
        ]
    return SdkState(
        is_done=bool(data.get("isDone")),
        actions=list(flat),
        output=data.get("output"),
        error=data.get("error"),
        custom_status=data.get("customStatus"),
    )
