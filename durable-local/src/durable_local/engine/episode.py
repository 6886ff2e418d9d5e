"""One orchestration episode, as DTFx runs it (spec §2.2, §3, §7.8, §7.9), without any I/O.

1. ``plan_episode``: the instance's pending messages become this episode's new events, after a
   single OrchestratorStarted; terminate/suspend/resume are applied here.
2. ``build_context_json``: the orchestration trigger payload of spec §1 for the SDK handle.
3. ``parse_sdk_output``: the SDK's OrchestratorState, or the one embedded in its exception.
4. ``decide``: replay the actions (replay.py) and say what the episode commits: appended events,
   new work, status, output, and the message owed to a parent.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from durable_local.engine import events as ev
from durable_local.engine.events import Event
from durable_local.engine.replay import (
    NonDeterminismError,
    OrchestrationActionError,
    ScheduledTask,
    replay_actions,
)
from durable_local.model import EventType, RuntimeStatus

OUT_OF_PROC_MARKER = "\n\n$OutOfProcData$:"
CONTROL_EVENTS = frozenset(
    {
        EventType.EXECUTION_TERMINATED,
        EventType.EXECUTION_SUSPENDED,
        EventType.EXECUTION_RESUMED,
        EventType.EXECUTION_REWOUND,
    }
)


@dataclass(frozen=True)
class ParentLink:
    instance_id: str
    execution_id: str
    task_id: int
    name: str


@dataclass
class InstanceState:
    """What the engine needs to know of an instance besides its history."""

    instance_id: str
    name: str
    execution_id: str
    status: RuntimeStatus
    parent: ParentLink | None = None


@dataclass(frozen=True)
class Message:
    """A pending message: an event for the instance (for one execution, or any when None)."""

    message_id: int
    event: Event
    execution_id: str | None = None
    text: str | None = None  # the event's JSON as queued, when the store has it


@dataclass
class EpisodePlan:
    new_events: list[Event]
    consumed: list[int]
    invoke_orchestrator: bool
    status: RuntimeStatus
    terminated_reason: str | None = None
    terminated: bool = False


@dataclass
class SdkState:
    is_done: bool = False
    actions: list[dict[str, Any]] = field(default_factory=list)
    output: Any = None
    error: str | None = None
    custom_status: Any = None


@dataclass
class Completion:
    status: RuntimeStatus
    output: str | None
    details: str | None = None


@dataclass
class EpisodeOutcome:
    appended: list[Event]
    consumed: list[int]
    status: RuntimeStatus
    activities: list[ScheduledTask] = field(default_factory=list)
    timers: list[ScheduledTask] = field(default_factory=list)
    sub_orchestrations: list[ScheduledTask] = field(default_factory=list)
    custom_status: str | None = None
    custom_status_changed: bool = False
    completion: Completion | None = None
    continue_as_new_input: str | None = None
    continued_as_new: bool = False
    parent_event: Event | None = None


def plan_episode(
    state: InstanceState, history_is_empty: bool, messages: list[Message], now: datetime
) -> EpisodePlan:
    """Turn pending messages into this episode's new events (spec §2.2, §7.8, §7.9)."""
    new_events: list[Event] = [ev.new_orchestrator_started(now)]
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
    invoke = started and not terminated and status == RuntimeStatus.RUNNING
    starts_execution = history_is_empty and started
    if not invoke and not terminated and not starts_execution:
        # Nothing for the orchestrator to see: record without an episode boundary (but a
        # history always opens with OrchestratorStarted, ExecutionStarted: spec §1).
        new_events = new_events[1:]
    return EpisodePlan(
        new_events=new_events,
        consumed=consumed,
        invoke_orchestrator=invoke,
        status=status,
        terminated=terminated,
        terminated_reason=terminated_reason,
    )


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
            {"actionType": 12, "compoundActions": group} if len(group) > 1 else group[0]
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


def decide(
    *,
    state: InstanceState,
    plan: EpisodePlan,
    history: list[Event],
    sdk: SdkState | None,
    now: datetime,
    known_activities: Any,
    known_orchestrators: Any,
) -> EpisodeOutcome:
    """What the episode commits. ``history`` is past plus ``plan.new_events``.

    ``sdk`` is None when the orchestrator was not invoked (suspended, terminated, not started).
    """
    outcome = EpisodeOutcome(
        appended=list(plan.new_events), consumed=plan.consumed, status=plan.status
    )
    if plan.terminated:
        reason = plan.terminated_reason
        _finish(outcome, state, now, RuntimeStatus.TERMINATED, reason, None)
        return outcome
    if sdk is None:
        return outcome

    outcome.custom_status = None if sdk.custom_status is None else json.dumps(sdk.custom_status)
    outcome.custom_status_changed = True
    try:
        replay = replay_actions(
            history,
            sdk.actions,
            instance_id=state.instance_id,
            execution_id=state.execution_id,
            parent_instance_id=state.parent.instance_id if state.parent else None,
            known_activities=known_activities,
            known_orchestrators=known_orchestrators,
        )
    except NonDeterminismError as exc:
        output = f"Non-Deterministic workflow detected: {exc}"
        _finish(outcome, state, now, RuntimeStatus.FAILED, output, output)
        return outcome
    except OrchestrationActionError as exc:
        output = f"Orchestrator function '{state.name}' failed: {exc}"
        _finish(outcome, state, now, RuntimeStatus.FAILED, output, f"Message: {exc}")
        return outcome

    for task in replay.new_tasks:
        outcome.appended.append(_scheduling_event(task, now))
        if task.kind == "activity":
            outcome.activities.append(task)
        elif task.kind == "suborchestration":
            outcome.sub_orchestrations.append(task)
        elif not task.cancelled:
            outcome.timers.append(task)

    finished = (sdk.is_done or sdk.error is not None) and not replay.open_task_ids
    if not finished:
        outcome.appended.append(ev.new_orchestrator_completed(now))
        outcome.status = RuntimeStatus.RUNNING
        return outcome
    if sdk.error is not None:
        output = f"Orchestrator function '{state.name}' failed: {sdk.error}"
        _finish(
            outcome,
            state,
            now,
            RuntimeStatus.FAILED,
            output,
            f"Message: {sdk.error}, StackTrace: ",
        )
    elif replay.continued_as_new:
        outcome.appended.append(ev.new_continue_as_new(now, replay.continue_as_new_input))
        outcome.appended.append(ev.new_orchestrator_completed(now))
        outcome.status = RuntimeStatus.CONTINUED_AS_NEW
        outcome.continued_as_new = True
        outcome.continue_as_new_input = replay.continue_as_new_input
    else:
        result = None if sdk.output is None else json.dumps(sdk.output, separators=(",", ":"))
        _finish(outcome, state, now, RuntimeStatus.COMPLETED, result, None)
    return outcome


def _finish(
    outcome: EpisodeOutcome,
    state: InstanceState,
    now: datetime,
    status: RuntimeStatus,
    output: str | None,
    details: str | None,
) -> None:
    dtfx_status = {
        RuntimeStatus.COMPLETED: ev.DTFX_STATUS_COMPLETED,
        RuntimeStatus.FAILED: ev.DTFX_STATUS_FAILED,
        RuntimeStatus.TERMINATED: ev.DTFX_STATUS_TERMINATED,
    }[status]
    # A termination's ExecutionTerminated is already among the appended message events.
    outcome.appended.append(
        ev.new_execution_completed(now, status=dtfx_status, result=output, failure_details=None)
    )
    if outcome.appended and outcome.appended[0]["EventType"] == EventType.ORCHESTRATOR_STARTED:
        outcome.appended.append(ev.new_orchestrator_completed(now))
    outcome.status = status
    outcome.completion = Completion(status=status, output=output, details=details)
    if state.parent is not None:
        link = state.parent
        if status == RuntimeStatus.COMPLETED:
            outcome.parent_event = ev.new_sub_orchestration_completed(now, link.task_id, output)
        else:
            outcome.parent_event = ev.new_sub_orchestration_failed(
                now, link.task_id, output, details
            )


def _scheduling_event(task: ScheduledTask, now: datetime) -> Event:
    if task.kind == "activity":
        return ev.new_task_scheduled(now, task.task_id, task.name, task.input_json)
    if task.kind == "suborchestration":
        assert task.instance_id is not None
        child_input = None if task.input_json is None else json.dumps(task.input_json)
        return ev.new_sub_orchestration_created(
            now, task.task_id, task.name, task.instance_id, child_input
        )
    assert task.fire_at is not None
    return ev.new_timer_created(now, task.task_id, task.fire_at)
