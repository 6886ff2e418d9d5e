"""Rewind on a plain event list (spec §7.8): the history is cut before the first failure and
unanswered work is scheduled again."""

from __future__ import annotations

from durable_local.engine import events as ev
from durable_local.engine.orchestration.rewind import rewind_history
from durable_local.model import EventType
from tests.helpers.engine import at, start


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
