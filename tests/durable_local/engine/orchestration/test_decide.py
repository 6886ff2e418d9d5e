"""The engine's decision after an episode (spec §3.5): the completion rule, what a completion
tells the parent, continue-as-new, terminate and a non-deterministic replay."""

from __future__ import annotations

import json
from typing import Any

from durable_local.engine import events as ev
from durable_local.engine.orchestration.decide import decide
from durable_local.engine.orchestration.payload import SdkState
from durable_local.engine.orchestration.plan import InstanceState, Message, plan_episode
from durable_local.model import EventType, ParentLink, RuntimeStatus
from tests.helpers.engine import activity, at, continue_as_new, start, timer, when_any


def test_non_deterministic_replay_fails_the_instance() -> None:
    state = InstanceState("i1", "orch", "e1", RuntimeStatus.RUNNING)
    history = [*start(), ev.new_task_scheduled(at(0), 0, "hello", '"a"')]
    plan = plan_episode(state, False, [], at(1))
    outcome = decide(
        state=state,
        plan=plan,
        history=history + plan.new_events,
        sdk=SdkState(actions=[activity("flaky", "a")]),
        now=at(1),
        known_activities=lambda n: True,
        known_orchestrators=lambda n: True,
    )
    assert outcome.status == RuntimeStatus.FAILED
    assert outcome.finished
    assert outcome.output is not None
    assert outcome.output.startswith("Non-Deterministic workflow detected:")
    assert outcome.appended[-2]["EventType"] == EventType.EXECUTION_COMPLETED


# -- completion rule (spec §3.5) ---------------------------------------------------------------


def _decide(history: list[ev.Event], sdk: SdkState, parent: ParentLink | None = None) -> Any:
    state = InstanceState("i1", "orch", "e1", RuntimeStatus.RUNNING, parent)
    plan = plan_episode(state, False, [], at(9))
    return decide(
        state=state,
        plan=plan,
        history=history + plan.new_events,
        sdk=sdk,
        now=at(9),
        known_activities=lambda n: True,
        known_orchestrators=lambda n: True,
    )


def test_done_with_an_open_task_any_loser_stays_running() -> None:
    race = when_any(activity("hello", "slow"), timer(at(5)))
    history = [
        *start(),
        ev.new_task_scheduled(at(0), 0, "hello", '"slow"'),
        ev.new_timer_created(at(0), 1, at(5)),
        ev.new_timer_fired(at(5), 1, "x"),
    ]
    outcome = _decide(history, SdkState(is_done=True, actions=[race], output="timeout"))
    assert outcome.status == RuntimeStatus.RUNNING and not outcome.finished
    history.append(ev.new_task_completed(at(9), 0, '"late"'))
    outcome = _decide(history, SdkState(is_done=True, actions=[race], output="timeout"))
    assert outcome.status == RuntimeStatus.COMPLETED
    assert outcome.output == '"timeout"'


def test_completion_notifies_the_parent_and_failure_carries_the_hosts_reason() -> None:
    parent = ParentLink("p1", "pe1", 4, "parent")
    done = _decide(start(), SdkState(is_done=True, output={"ok": 1}), parent)
    to_parent = done.messages[-1].event
    assert to_parent["EventType"] == EventType.SUB_ORCHESTRATION_INSTANCE_COMPLETED
    assert to_parent["TaskScheduledId"] == 4 and to_parent["Result"] == '{"ok":1}'
    failed = _decide(start(), SdkState(error="nope"), parent)
    assert failed.status == RuntimeStatus.FAILED
    assert failed.messages[-1].event["EventType"] == EventType.SUB_ORCHESTRATION_INSTANCE_FAILED
    assert failed.messages[-1].event["Reason"] == "Orchestrator function 'orch' failed: nope"


def test_continue_as_new_ends_the_execution_with_its_input() -> None:
    actions = [activity("hello", 1), continue_as_new("2")]
    history = [
        *start(),
        ev.new_task_scheduled(at(0), 0, "hello", "1"),
        ev.new_task_completed(at(1), 0, "1"),
    ]
    outcome = _decide(history, SdkState(is_done=True, actions=actions))
    assert outcome.new_execution_id is not None and outcome.new_input_json == json.dumps("2")
    assert outcome.status == RuntimeStatus.CONTINUED_AS_NEW
    kinds = [e["EventType"] for e in outcome.appended]
    assert kinds[-2:] == [EventType.CONTINUE_AS_NEW, EventType.ORCHESTRATOR_COMPLETED]


def _message(mid: int, event: ev.Event, execution_id: str | None = None) -> Message:
    return Message(mid, event, execution_id)


def test_terminate_ends_the_instance_without_calling_the_orchestrator() -> None:
    state = InstanceState("i1", "orch", "e1", RuntimeStatus.RUNNING)
    plan = plan_episode(
        state, False, [_message(1, ev.new_execution_terminated(at(1), "stop"))], at(1)
    )
    assert not plan.invoke_orchestrator and plan.terminated
    outcome = decide(
        state=state,
        plan=plan,
        history=start() + plan.new_events,
        sdk=None,
        now=at(1),
        known_activities=lambda n: True,
        known_orchestrators=lambda n: True,
    )
    assert outcome.status == RuntimeStatus.TERMINATED and outcome.output == "stop"
    assert [e["EventType"] for e in outcome.appended] == [
        EventType.ORCHESTRATOR_STARTED,
        EventType.EXECUTION_TERMINATED,
        EventType.EXECUTION_COMPLETED,
        EventType.ORCHESTRATOR_COMPLETED,
    ]
