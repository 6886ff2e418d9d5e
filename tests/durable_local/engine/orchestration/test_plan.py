"""Episode planning (spec §2.2, §7.8, §7.9): which pending messages form the next episode and
whether the orchestrator is called."""

from __future__ import annotations

from durable_local.engine import events as ev
from durable_local.engine.orchestration.plan import InstanceState, Message, plan_episode
from durable_local.model import EventType, RuntimeStatus
from tests.helpers.engine import at, start

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
