"""Deciding an episode: from the history, the plan and the SDK's output to the commit the store
applies (spec §3.5, §3.7, §7.6). Pure: the only thing it asks of the world is new ids."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import datetime

from durable_local.engine import events as ev
from durable_local.engine.commit import ActivityRequest, ChildStart, EpisodeCommit, OutboundMessage
from durable_local.engine.events import Event
from durable_local.engine.orchestration.payload import SdkState
from durable_local.engine.orchestration.plan import EpisodePlan, InstanceState
from durable_local.engine.orchestration.replay import (
    NonDeterminismError,
    OrchestrationActionError,
    replay_actions,
)
from durable_local.engine.orchestration.tasks import ScheduledTask
from durable_local.model import (
    DtfxStatus,
    EventType,
    InstanceRecord,
    ParentLink,
    RuntimeStatus,
    compact,
    format_event_time,
)

_DTFX_STATUS = {
    RuntimeStatus.COMPLETED: DtfxStatus.COMPLETED.value,
    RuntimeStatus.FAILED: DtfxStatus.FAILED.value,
    RuntimeStatus.TERMINATED: DtfxStatus.TERMINATED.value,
}


def _new_id() -> str:
    return uuid.uuid4().hex


def decide(
    *,
    state: InstanceState,
    plan: EpisodePlan,
    history: list[Event],
    sdk: SdkState | None,
    now: datetime,
    known_activities: Callable[[str], bool],
    known_orchestrators: Callable[[str], bool],
    orchestrator_name: Callable[[str], str] = str,
    new_id: Callable[[], str] = _new_id,
    default_version: str = "",
) -> EpisodeCommit:
    """The commit of one episode. ``history`` is past plus ``plan.new_events``.

    ``sdk`` is None when the orchestrator was not invoked (suspended, terminated, not started).
    ``orchestrator_name`` gives a sub-orchestration's registered name (names are matched
    case-insensitively); ``new_id`` makes execution ids for children and continue-as-new;
    ``default_version`` (host.json ``defaultVersion``) is the version of a sub-orchestration
    started without one. Continuing as new keeps the execution's version.
    """
    commit = EpisodeCommit(
        appended=list(plan.new_events),
        consumed=plan.consumed,
        status=plan.status,
        # Late messages for a finished instance are discarded: it is not updated (§2.2).
        updated=state.last_updated
        if state.status.is_terminal and state.last_updated is not None
        else now,
    )
    if plan.terminated:
        _finish(commit, state, now, RuntimeStatus.TERMINATED, plan.terminated_reason, None)
        return _stored(commit, plan)
    if sdk is None:
        return _stored(commit, plan)

    commit.custom_status = None if sdk.custom_status is None else json.dumps(sdk.custom_status)
    commit.custom_status_changed = True
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
        _finish(commit, state, now, RuntimeStatus.FAILED, output, output)
        return _stored(commit, plan)
    except OrchestrationActionError as exc:
        output = f"Orchestrator function '{state.name}' failed: {exc}"
        _finish(commit, state, now, RuntimeStatus.FAILED, output, f"Message: {exc}")
        return _stored(commit, plan)

    for task in replay.new_tasks:
        commit.appended.append(_scheduling_event(task, now, default_version))
        if task.kind == "activity":
            commit.activities.append(ActivityRequest(task.task_id, task.name, task.input_json))
        elif task.kind == "suborchestration":
            commit.children.append(
                _child_start(task, state, now, orchestrator_name, new_id, default_version)
            )
        elif not task.cancelled:
            commit.messages.append(_timer_message(task, state))

    finished = (sdk.is_done or sdk.error is not None) and not replay.open_task_ids
    if not finished:
        commit.appended.append(ev.new_orchestrator_completed(now))
        commit.status = RuntimeStatus.RUNNING
        return _stored(commit, plan)
    if sdk.error is not None:
        output = f"Orchestrator function '{state.name}' failed: {sdk.error}"
        details = f"Message: {sdk.error}, StackTrace: "
        _finish(commit, state, now, RuntimeStatus.FAILED, output, details)
    elif replay.continued_as_new:
        commit.appended.append(ev.new_continue_as_new(now, replay.continue_as_new_input))
        commit.appended.append(ev.new_orchestrator_completed(now))
        commit.status = RuntimeStatus.CONTINUED_AS_NEW
        raw = replay.continue_as_new_input
        new_input = None if raw is None else json.dumps(raw)
        commit.new_execution_id = new_id()
        commit.new_input_json = new_input
        commit.new_execution_start = ev.new_execution_started(
            now,
            instance_id=state.instance_id,
            execution_id=commit.new_execution_id,
            name=state.name,
            input_json=new_input,
            version=ev.execution_version(history),
        )
    else:
        result = None if sdk.output is None else compact(sdk.output)
        _finish(commit, state, now, RuntimeStatus.COMPLETED, result, None)
    return _stored(commit, plan)


def _stored(commit: EpisodeCommit, plan: EpisodePlan) -> EpisodeCommit:
    """The commit with its events encoded once, for the store and for the caller's history
    cache; a queued event keeps the text it was queued with."""
    texts = plan.new_texts or [None] * len(plan.new_events)
    commit.appended_texts = [
        ev.played_text(event, texts[index] if index < len(texts) else None)
        for index, event in enumerate(commit.appended)
    ]
    return commit


def _finish(
    commit: EpisodeCommit,
    state: InstanceState,
    now: datetime,
    status: RuntimeStatus,
    output: str | None,
    details: str | None,
) -> None:
    # A termination's ExecutionTerminated is already among the appended message events.
    commit.appended.append(
        ev.new_execution_completed(
            now, status=_DTFX_STATUS[status], result=output, failure_details=None
        )
    )
    if commit.appended and commit.appended[0]["EventType"] == EventType.ORCHESTRATOR_STARTED:
        commit.appended.append(ev.new_orchestrator_completed(now))
    commit.status = status
    commit.finished = True
    commit.output = output
    commit.failure_details = details
    link = state.parent
    if link is not None:
        if status == RuntimeStatus.COMPLETED:
            event = ev.new_sub_orchestration_completed(now, link.task_id, output)
        else:
            event = ev.new_sub_orchestration_failed(now, link.task_id, output, details)
        commit.messages.append(OutboundMessage(link.instance_id, event, link.execution_id))


def _child_version(task: ScheduledTask, default_version: str) -> str:
    return task.version if task.version is not None else default_version


def _scheduling_event(task: ScheduledTask, now: datetime, default_version: str) -> Event:
    if task.kind == "activity":
        return ev.new_task_scheduled(now, task.task_id, task.name, task.input_json)
    if task.kind == "suborchestration":
        assert task.instance_id is not None
        child_input = None if task.input_json is None else json.dumps(task.input_json)
        return ev.new_sub_orchestration_created(
            now,
            task.task_id,
            task.name,
            task.instance_id,
            child_input,
            _child_version(task, default_version),
        )
    assert task.fire_at is not None
    return ev.new_timer_created(now, task.task_id, task.fire_at)


def _timer_message(task: ScheduledTask, state: InstanceState) -> OutboundMessage:
    """A timer is a message to the instance itself, visible at its fire time."""
    assert task.fire_at is not None
    fired = ev.new_timer_fired(task.fire_at, task.task_id, format_event_time(task.fire_at))
    return OutboundMessage(state.instance_id, fired, state.execution_id, visible_at=task.fire_at)


def _child_start(
    task: ScheduledTask,
    state: InstanceState,
    now: datetime,
    orchestrator_name: Callable[[str], str],
    new_id: Callable[[], str],
    default_version: str,
) -> ChildStart:
    assert task.instance_id is not None
    execution_id = new_id()
    child_input = None if task.input_json is None else json.dumps(task.input_json)
    parent = ParentLink(state.instance_id, state.execution_id, task.task_id, state.name)
    record = InstanceRecord(
        instance_id=task.instance_id,
        name=orchestrator_name(task.name),
        execution_id=execution_id,
        status=RuntimeStatus.PENDING,
        input_json=child_input,
        created=now,
        updated=now,
        parent=parent,
    )
    start = ev.new_execution_started(
        now,
        instance_id=task.instance_id,
        execution_id=execution_id,
        name=record.name,
        input_json=child_input,
        version=_child_version(task, default_version),
        parent=ev.new_parent_instance(
            name=state.name,
            task_id=task.task_id,
            instance_id=state.instance_id,
            execution_id=state.execution_id,
        ),
    )
    return ChildStart(record, start, task.task_id)
