"""Engine unit tests on plain event lists: action replay (spec §3.7), retries (§7.6), the
completion rule (§3.5), episode planning (§2.2, §7.8, §7.9) and SDK output parsing (§3.4).

The actions below are shaped exactly as SDK 1.7.0 emits them (spec §3.2, §11 section B)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from durable_local.engine import events as ev
from durable_local.engine.episode import (
    InstanceState,
    Message,
    ParentLink,
    SdkState,
    decide,
    parse_sdk_output,
    plan_episode,
)
from durable_local.engine.replay import (
    NonDeterminismError,
    OrchestrationActionError,
    replay_actions,
)
from durable_local.engine.rewind import rewind_history
from durable_local.model import EventType, RuntimeStatus

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def activity(name: str, value: Any) -> dict[str, Any]:
    return {"actionType": 0, "functionName": name, "input": json.dumps(value)}


def retry_activity(name: str, value: Any, interval_ms: int, attempts: int) -> dict[str, Any]:
    inner = {
        "actionType": 1,
        "functionName": name,
        "input": json.dumps(value),
        "retryOptions": {
            "firstRetryIntervalInMilliseconds": interval_ms,
            "maxNumberOfAttempts": attempts,
        },
    }
    return {"actionType": 12, "compoundActions": [inner]}


def timer(fire_at: datetime, cancelled: bool = False) -> dict[str, Any]:
    return {
        "actionType": 5,
        "fireAt": fire_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "isCanceled": cancelled,
    }


def wait(name: str) -> dict[str, Any]:
    return {"actionType": 6, "externalEventName": name, "reason": "ExternalEvent"}


def sub(name: str, instance_id: str | None = None) -> dict[str, Any]:
    return {
        "actionType": 2,
        "functionName": name,
        "input": "null",
        "instanceId": instance_id,
        "version": None,
    }


def when_all(*children: dict[str, Any]) -> dict[str, Any]:
    return {"actionType": 12, "compoundActions": list(children)}


def when_any(*children: dict[str, Any]) -> dict[str, Any]:
    return {"actionType": 11, "compoundActions": list(children)}


def start(seconds: float = 0) -> list[ev.Event]:
    return [
        ev.new_orchestrator_started(at(seconds)),
        ev.new_execution_started(
            at(seconds), instance_id="i1", execution_id="e1", name="orch", input_json=None
        ),
    ]


def replay(history: list[ev.Event], actions: list[dict[str, Any]]) -> Any:
    return replay_actions(
        history,
        actions,
        instance_id="i1",
        execution_id="e1",
        parent_instance_id=None,
        known_activities=lambda name: name.lower() in {"hello", "flaky"},
        known_orchestrators=lambda name: name.lower() in {"child", "orch"},
    )


def ids(result: Any) -> list[tuple[int, str, str]]:
    return [(t.task_id, t.kind, t.name) for t in result.new_tasks]


# -- sequencing and ids ------------------------------------------------------------------------


def test_chaining_schedules_one_new_activity_per_episode() -> None:
    history = start()
    assert ids(replay(history, [activity("hello", "a")])) == [(0, "activity", "hello")]
    history += [
        ev.new_task_scheduled(at(0), 0, "hello", '"a"'),
        ev.new_orchestrator_completed(at(0)),
        ev.new_orchestrator_started(at(1)),
        ev.new_task_completed(at(1), 0, '"A"'),
    ]
    result = replay(history, [activity("hello", "a"), activity("hello", "b")])
    assert ids(result) == [(1, "activity", "hello")]
    assert result.open_task_ids == {1}


def test_later_top_level_action_waits_for_the_previous_one() -> None:
    # The extension runs top-level actions one after another: an action listed after an
    # unfinished one is not scheduled yet, so it gets no id and no TaskScheduled.
    history = start()
    result = replay(history, [wait("Go"), activity("hello", "x")])
    assert ids(result) == []
    history.append(ev.new_event_raised(at(0), "Go", "1"))
    assert ids(replay(history, [wait("Go"), activity("hello", "x")])) == [(0, "activity", "hello")]


def test_fan_out_takes_consecutive_ids_and_fan_in_completes_in_any_order() -> None:
    actions = [when_all(*(activity("hello", i) for i in range(5)))]
    history = start()
    assert [t.task_id for t in replay(history, actions).new_tasks] == [0, 1, 2, 3, 4]
    history += [ev.new_task_scheduled(at(0), i, "hello", str(i)) for i in range(5)]
    history += [ev.new_orchestrator_completed(at(0)), ev.new_orchestrator_started(at(1))]
    history += [ev.new_task_completed(at(1), i, str(i)) for i in (3, 0, 4, 1, 2)]
    result = replay(history, actions)
    assert result.new_tasks == [] and result.open_task_ids == set()


def test_event_names_match_case_insensitively_and_buffer_fifo() -> None:
    history = [
        *start(),
        ev.new_event_raised(at(0), "go", "1"),
        ev.new_event_raised(at(0), "GO", "2"),
    ]
    result = replay(history, [wait("Go"), wait("Go"), activity("hello", 1)])
    assert ids(result) == [(0, "activity", "hello")]


def test_when_any_with_cancelled_timer_lets_the_next_action_start() -> None:
    history = start()
    race = when_any(wait("Ack"), timer(at(3600)))
    assert ids(replay(history, [race])) == [(0, "timer", "")]
    history += [
        ev.new_timer_created(at(0), 0, at(3600)),
        ev.new_orchestrator_completed(at(0)),
        ev.new_orchestrator_started(at(5)),
        ev.new_event_raised(at(5), "Ack", "true"),
    ]
    cancelled = when_any(wait("Ack"), timer(at(3600), cancelled=True))
    result = replay(history, [cancelled, activity("hello", "record")])
    assert ids(result) == [(1, "activity", "hello")]
    assert result.open_task_ids == {1}  # the cancelled timer no longer counts as open


def test_sub_orchestration_default_id_is_execution_id_and_sequence() -> None:
    result = replay(start(), [activity("hello", 1), sub("child")])
    assert ids(result) == [(0, "activity", "hello")]
    result = replay(start(), [when_all(activity("hello", 1), sub("child"), sub("child", "c-x"))])
    assert [(t.task_id, t.instance_id) for t in result.new_tasks] == [
        (0, None),
        (1, "e1:1"),
        (2, "c-x"),
    ]


def test_sub_orchestration_with_the_parents_id_is_refused() -> None:
    with pytest.raises(OrchestrationActionError, match="must be different"):
        replay(start(), [sub("child", "i1")])


def test_unknown_activity_is_refused_with_the_hosts_message() -> None:
    with pytest.raises(OrchestrationActionError, match="doesn't exist, is disabled"):
        replay(start(), [activity("nope", 1)])


# -- retries (spec §7.6) -------------------------------------------------------------------------


def test_retry_schedules_a_timer_after_a_failure_then_a_new_attempt() -> None:
    action = [retry_activity("flaky", "in", 5000, 3)]
    history = [
        *start(),
        ev.new_task_scheduled(at(0), 0, "flaky", '"in"'),
        ev.new_orchestrator_completed(at(0)),
        ev.new_orchestrator_started(at(2)),
        ev.new_task_failed(at(2), 0, "boom", "details"),
    ]
    result = replay(history, action)
    assert ids(result) == [(1, "timer", "")]
    assert result.new_tasks[0].fire_at == at(7)  # now (episode start) + first interval
    history += [
        ev.new_timer_created(at(2), 1, at(7)),
        ev.new_orchestrator_completed(at(2)),
        ev.new_orchestrator_started(at(7)),
        ev.new_timer_fired(at(7), 1, "x"),
    ]
    assert ids(replay(history, action)) == [(2, "activity", "flaky")]


def test_retry_exhaustion_adds_an_immediate_final_timer_then_fails() -> None:
    action = [retry_activity("flaky", "in", 1000, 2)]
    history = [
        *start(),
        ev.new_task_scheduled(at(0), 0, "flaky", '"in"'),
        ev.new_task_failed(at(1), 0, "boom", "d"),
        ev.new_timer_created(at(1), 1, at(2)),
        ev.new_timer_fired(at(2), 1, "x"),
        ev.new_task_scheduled(at(2), 2, "flaky", '"in"'),
        ev.new_orchestrator_completed(at(2)),
        ev.new_orchestrator_started(at(3)),
        ev.new_task_failed(at(3), 2, "boom", "d"),
    ]
    result = replay(history, action)
    assert ids(result) == [(3, "timer", "")]
    assert result.new_tasks[0].fire_at == at(3)  # "dummy timer": fires at once
    history += [ev.new_timer_created(at(3), 3, at(3)), ev.new_timer_fired(at(3), 3, "x")]
    result = replay(history, action)
    assert result.new_tasks == [] and result.open_task_ids == set()


# -- non-determinism (spec §3.6) ---------------------------------------------------------------


def test_renamed_activity_is_non_deterministic() -> None:
    history = [*start(), ev.new_task_scheduled(at(0), 0, "hello", '"a"')]
    with pytest.raises(NonDeterminismError, match=r"named 'hello'.*instead scheduled an activity"):
        replay(history, [activity("flaky", "a")])


def test_activity_replaced_by_timer_is_non_deterministic() -> None:
    history = [*start(), ev.new_task_scheduled(at(0), 0, "hello", '"a"')]
    with pytest.raises(NonDeterminismError, match="instead scheduled a timer"):
        replay(history, [timer(at(10))])


def test_history_task_no_longer_scheduled_is_non_deterministic() -> None:
    history = [*start(), ev.new_task_scheduled(at(0), 0, "hello", '"a"')]
    with pytest.raises(NonDeterminismError, match="hasn't \\(yet\\?\\) scheduled"):
        replay(history, [])


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
    assert outcome.completion is not None
    assert outcome.completion.output is not None
    assert outcome.completion.output.startswith("Non-Deterministic workflow detected:")
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
    assert outcome.status == RuntimeStatus.RUNNING and outcome.completion is None
    history.append(ev.new_task_completed(at(9), 0, '"late"'))
    outcome = _decide(history, SdkState(is_done=True, actions=[race], output="timeout"))
    assert outcome.status == RuntimeStatus.COMPLETED
    assert outcome.completion.output == '"timeout"'


def test_completion_notifies_the_parent_and_failure_carries_the_hosts_reason() -> None:
    parent = ParentLink("p1", "pe1", 4, "parent")
    done = _decide(start(), SdkState(is_done=True, output={"ok": 1}), parent)
    assert done.parent_event["EventType"] == EventType.SUB_ORCHESTRATION_INSTANCE_COMPLETED
    assert done.parent_event["TaskScheduledId"] == 4 and done.parent_event["Result"] == '{"ok":1}'
    failed = _decide(start(), SdkState(error="nope"), parent)
    assert failed.status == RuntimeStatus.FAILED
    assert failed.parent_event["EventType"] == EventType.SUB_ORCHESTRATION_INSTANCE_FAILED
    assert failed.parent_event["Reason"] == "Orchestrator function 'orch' failed: nope"


def test_continue_as_new_ends_the_execution_with_its_input() -> None:
    actions = [activity("hello", 1), {"actionType": 4, "input": "2"}]
    history = [
        *start(),
        ev.new_task_scheduled(at(0), 0, "hello", "1"),
        ev.new_task_completed(at(1), 0, "1"),
    ]
    outcome = _decide(history, SdkState(is_done=True, actions=actions))
    assert outcome.continued_as_new and outcome.continue_as_new_input == "2"
    assert outcome.status == RuntimeStatus.CONTINUED_AS_NEW
    kinds = [e["EventType"] for e in outcome.appended]
    assert kinds[-2:] == [EventType.CONTINUE_AS_NEW, EventType.ORCHESTRATOR_COMPLETED]


# -- episode planning --------------------------------------------------------------------------


def _message(mid: int, event: ev.Event, execution_id: str | None = None) -> Message:
    return Message(mid, event, execution_id)


def test_all_pending_messages_form_one_episode_with_execution_started_first() -> None:
    state = InstanceState("i1", "orch", "e1", RuntimeStatus.PENDING)
    started = start()[1]
    messages = [
        _message(1, ev.new_event_raised(at(0), "A", "1")),
        _message(2, started, "e1"),
        _message(3, ev.new_task_completed(at(0), 0, "1"), "old-execution"),
    ]
    plan = plan_episode(state, True, messages, at(1))
    kinds = [e["EventType"] for e in plan.new_events]
    assert kinds == [
        EventType.ORCHESTRATOR_STARTED,
        EventType.EXECUTION_STARTED,
        EventType.EVENT_RAISED,
    ]
    assert plan.invoke_orchestrator and plan.consumed == [2, 1, 3]


def test_suspended_instance_records_events_without_an_episode() -> None:
    state = InstanceState("i1", "orch", "e1", RuntimeStatus.RUNNING)
    plan = plan_episode(
        state,
        False,
        [
            _message(1, ev.new_execution_suspended(at(1), "pause")),
            _message(2, ev.new_event_raised(at(1), "A", "1")),
        ],
        at(1),
    )
    assert not plan.invoke_orchestrator and plan.status == RuntimeStatus.SUSPENDED
    assert [e["EventType"] for e in plan.new_events] == [
        EventType.EXECUTION_SUSPENDED,
        EventType.EVENT_RAISED,
    ]
    state.status = RuntimeStatus.SUSPENDED
    plan = plan_episode(state, False, [_message(3, ev.new_execution_resumed(at(2), "go"))], at(2))
    assert plan.invoke_orchestrator and plan.status == RuntimeStatus.RUNNING


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
    assert outcome.status == RuntimeStatus.TERMINATED and outcome.completion.output == "stop"
    assert [e["EventType"] for e in outcome.appended] == [
        EventType.ORCHESTRATOR_STARTED,
        EventType.EXECUTION_TERMINATED,
        EventType.EXECUTION_COMPLETED,
        EventType.ORCHESTRATOR_COMPLETED,
    ]


# -- SDK output ----------------------------------------------------------------------------------


def test_out_of_proc_exception_yields_its_actions_and_error() -> None:
    payload = {
        "isDone": False,
        "schemaVersion": 2,
        "actions": [[activity("hello", "x")]],
        "error": "boom",
    }
    state = parse_sdk_output(None, "boom\n\n$OutOfProcData$:" + json.dumps(payload))
    assert state.error == "boom" and state.actions == [activity("hello", "x")]
    plain = parse_sdk_output(None, "something else broke")
    assert plain.error == "something else broke" and plain.actions == []


def test_rewind_cuts_before_the_first_failure_and_unschedules_unanswered_work() -> None:
    history = [
        *start(),
        ev.new_task_scheduled(at(0), 0, "hello", "1"),
        ev.new_task_completed(at(1), 0, "1"),
        ev.new_task_scheduled(at(1), 1, "flaky", "1"),
        ev.new_sub_orchestration_created(at(1), 2, "child", "c1", None),
        ev.new_sub_orchestration_created(at(1), 3, "child", "c2", None),
        ev.new_timer_created(at(1), 4, at(60)),
        ev.new_orchestrator_completed(at(1)),
        ev.new_orchestrator_started(at(2)),
        ev.new_task_failed(at(2), 1, "boom", "d"),
        ev.new_timer_created(at(2), 5, at(3)),  # a retry timer after the failure
        ev.new_sub_orchestration_failed(at(2), 2, "bad", "d"),
        ev.new_execution_completed(at(2), status=3, result="failed"),
    ]
    rewritten, children = rewind_history(history, lambda child: child == "c1")
    shape = [(e["EventType"], e["EventId"]) for e in rewritten]
    assert children == ["c1"]  # the failed child is rewound and keeps its creation row
    # the failed activity (1), the unfinished child (3) and timer (4) are scheduled again
    assert shape == [
        (EventType.ORCHESTRATOR_STARTED, -1),
        (EventType.EXECUTION_STARTED, -1),
        (EventType.TASK_SCHEDULED, 0),
        (EventType.TASK_COMPLETED, -1),
        (EventType.SUB_ORCHESTRATION_INSTANCE_CREATED, 2),
        (EventType.ORCHESTRATOR_COMPLETED, -1),
    ]


# -- stored texts ----------------------------------------------------------------------------
def _queued_events() -> list[ev.Event]:
    """One event of each kind a message can carry, with payloads that look like the flag."""
    tricky = json.dumps({"IsPlayed": False, "text": '"IsPlayed": false'})
    return [
        ev.new_orchestrator_started(T0),
        ev.new_execution_started(
            T0,
            instance_id="i",
            execution_id="e",
            name="orch",
            input_json=tricky,
            parent=ev.new_parent_instance(
                name="parent", task_id=1, instance_id="p", execution_id="pe"
            ),
        ),
        ev.new_task_completed(T0, 3, tricky),
        ev.new_task_failed(T0, 4, '"IsPlayed": false', tricky),
        ev.new_sub_orchestration_completed(T0, 5, tricky),
        ev.new_timer_fired(T0, 6, "2026-01-01T00:00:00.0000000Z"),
        ev.new_event_raised(T0, '"IsPlayed": false', tricky),
        ev.new_execution_terminated(T0, tricky),
        ev.new_execution_suspended(T0, None),
        ev.new_execution_resumed(T0, "why"),
    ]


@pytest.mark.parametrize("event", _queued_events(), ids=lambda e: str(e["EventType"]))
def test_played_text_from_the_queued_text_equals_encoding_the_event_again(
    event: ev.Event,
) -> None:
    queued = json.dumps(event)
    assert ev.played_text(event, queued) == ev.played_text(event)
    stored = json.loads(ev.played_text(event, queued))
    assert stored == {**event, "IsPlayed": event["EventType"] != EventType.ORCHESTRATOR_STARTED}


def test_played_text_ignores_a_text_that_does_not_open_with_the_header() -> None:
    event = ev.new_task_completed(T0, 1, '"x"')
    reordered = json.dumps({"Result": '"IsPlayed": false', **event})
    assert json.loads(ev.played_text(event, reordered))["IsPlayed"] is True
    assert json.loads(ev.played_text(event, reordered))["Result"] == '"x"'


@pytest.mark.parametrize(
    "input_json", [None, "1", '"text"', '{"a": [1, 2]}', 'héllo \u2603 \x01\n\t\\ "q"']
)
def test_task_scheduled_input_is_the_one_element_params_array(input_json: str | None) -> None:
    event = ev.new_task_scheduled(T0, 1, "act", input_json)
    assert event["Input"] == json.dumps([input_json])


@pytest.mark.parametrize("event", _queued_events(), ids=lambda e: str(e["EventType"]))
def test_event_json_is_json_dumps(event: ev.Event) -> None:
    assert ev.event_json(event) == json.dumps(event)
    nested = {**event, "Extra": {"list": [1.5, float("nan"), None, True], "s": "\u00e9"}}
    assert ev.event_json(nested) == json.dumps(nested)


@pytest.mark.parametrize(
    "event",
    [
        ev.new_task_scheduled(T0, 2, 'nämé "q"', 'héllo \u2603 \x01\n\t\\ "q"'),
        ev.new_task_scheduled(T0, 2**70, "act", None),
        ev.new_task_completed(T0, 9, '{"a": "\u2028", "b": [1, 2]}'),
        ev.new_task_completed(T0, 9, None),
    ],
    ids=["scheduled", "scheduled-big-id", "completed", "completed-null"],
)
@pytest.mark.parametrize("played", [False, True])
def test_activity_events_written_from_a_template_are_what_json_dumps_writes(
    event: ev.Event, played: bool
) -> None:
    event = {**event, "IsPlayed": played}
    assert ev.event_json(event) == json.dumps(event)
    assert ev.played_text(event) == json.dumps(
        {**event, "IsPlayed": event["EventType"] != EventType.ORCHESTRATOR_STARTED}
    )


@pytest.mark.parametrize(
    "change",
    [{"EventId": True}, {"Extra": 1}, {"Version": "2"}, {"Result": 5}, {"Timestamp": None}],
    ids=["bool-id", "extra-field", "version", "non-text-result", "no-timestamp"],
)
def test_activity_events_unlike_the_factories_fall_back_to_the_encoder(
    change: dict[str, object],
) -> None:
    base = ev.new_task_completed(T0, 1, "1")
    if "Version" in change:
        base = ev.new_task_scheduled(T0, 1, "act", "1")
    event = {**base, **change}
    assert ev.event_json(event) == json.dumps(event)
    assert json.loads(ev.played_text(event)) == {**event, "IsPlayed": True}
