"""Action replay on plain event lists (spec §3.7): sequencing and ids, retries (§7.6) and
non-determinism (§3.6). The actions are shaped exactly as SDK 1.7.0 emits them (spec §3.2, §11
section B)."""

from __future__ import annotations

from typing import Any

import pytest

from durable_local.engine import events as ev
from durable_local.engine.orchestration.replay import (
    NonDeterminismError,
    OrchestrationActionError,
    replay_actions,
)
from tests.helpers.engine import (
    activity,
    at,
    retry_activity,
    start,
    sub,
    timer,
    wait,
    when_all,
    when_any,
)


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
