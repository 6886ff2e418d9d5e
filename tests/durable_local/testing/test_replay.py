"""HistoryBuilder and replay: one orchestrator episode through the SDK's real replay engine,
history in; actions, output, custom status and failures out."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import pytest

from durable_local.functions.loader import LoadedApp
from durable_local.testing import ActionType, HistoryBuilder, iso, replay
from tests.fixture_apps import ORDERS_APP, TESTING_APP
from tests.helpers.apps import loaded_app

ORDER = {"id": 5, "amount": 12}


@pytest.fixture
def orders() -> Iterator[LoadedApp]:
    with loaded_app(ORDERS_APP) as loaded:
        yield loaded


def test_the_first_episode_schedules_the_first_activity(orders: LoadedApp) -> None:
    result = HistoryBuilder("process_order", input=ORDER).replay(orders.module.process_order)
    assert not result.done
    assert result.error is None
    assert result.actions == [
        {
            "actionType": ActionType.CALL_ACTIVITY,
            "functionName": "reserve_stock",
            "input": json.dumps(ORDER),
        }
    ]


def test_the_last_episode_completes_with_the_output(orders: LoadedApp) -> None:
    history = HistoryBuilder("process_order", input=ORDER, instance_id="order-5")
    for index, (name, result) in enumerate(
        [("reserve_stock", "R-5"), ("charge_card", "C-5"), ("ship", "T-5")]
    ):
        history.task_scheduled(index, name, ORDER).orchestrator_completed()
        history.orchestrator_started().task_completed(index, result)
    function = orders.registry.orchestrator("process_order")
    assert function is not None
    result = replay(function.handle, history)
    assert result.done
    assert result.output == {"reservation": "R-5", "receipt": "C-5", "tracking": "T-5"}
    assert result.custom_status == "shipped"


def test_a_fan_out_is_one_when_all_of_every_line(orders: LoadedApp) -> None:
    lines = [{"sku": "apple", "qty": 1}, {"sku": "plum", "qty": 2}]
    result = HistoryBuilder("price_basket", input=lines).replay(orders.module.price_basket)
    assert [a["actionType"] for a in result.actions] == [ActionType.WHEN_ALL]
    assert [json.loads(a["input"]) for a in result.leaves()] == lines


def test_a_timer_and_an_event_race_and_the_timer_wins(orders: LoadedApp) -> None:
    history = HistoryBuilder("approve_refund", input={"id": "R"})
    deadline = history.now + timedelta(hours=72)
    history.task_scheduled(0, "request_approval", {"id": "R"}).orchestrator_completed()
    history.orchestrator_started().task_completed(0, "asked")
    history.timer_created(1, deadline).orchestrator_completed()
    history.orchestrator_started(advance=timedelta(hours=72)).timer_fired(1, deadline)

    result = history.replay(orders.module.approve_refund)

    assert history.scheduled() == [("activity", 0, "request_approval"), ("timer", 1, None)]
    assert [leaf["functionName"] for leaf in result.leaves() if "functionName" in leaf] == [
        "request_approval",
        "escalate",
    ]
    assert iso(deadline).endswith("Z")


def test_the_event_wins_when_it_comes_first(orders: LoadedApp) -> None:
    history = HistoryBuilder("approve_refund", input={"id": "R"})
    deadline = history.now + timedelta(hours=72)
    history.task_scheduled(0, "request_approval", {"id": "R"}).orchestrator_completed()
    history.orchestrator_started().task_completed(0, "asked")
    history.timer_created(1, deadline).orchestrator_completed()
    # What the SDK client's raise_event stores: the data JSON-encoded twice.
    history.orchestrator_started().event_raised("Approval", json.dumps(json.dumps({"approved": 0})))

    result = history.replay(orders.module.approve_refund)

    assert result.done
    assert result.output == "rejected"


def test_an_orchestrator_failure_is_decoded() -> None:
    with loaded_app(TESTING_APP) as loaded:
        history = HistoryBuilder("fragile", input="x")
        history.task_scheduled(0, "explode", "x").orchestrator_completed()
        history.orchestrator_started().task_failed(0, "Activity function 'explode' failed: boom")
        result = history.replay(loaded.module.fragile)
    # The SDK reports an orchestrator that raised in its state's "error", not as done.
    assert result.error is not None and "boom" in result.error
    assert "boom" in result.state["error"]


def test_a_sub_orchestration_history_is_built_like_the_host_writes_it() -> None:
    history = HistoryBuilder("parent", input=None, instance_id="p")
    history.sub_orchestration_created(0, "child", "p:0", {"n": 1}).orchestrator_completed()
    history.orchestrator_started().sub_orchestration_completed(0, 2)
    created, completed = history.events[2], history.events[5]
    assert created["EventType"] == 7 and created["InstanceId"] == "p:0"
    assert json.loads(json.loads(created["Input"])) == {"n": 1}
    assert completed["TaskScheduledId"] == 0 and json.loads(completed["Result"]) == 2
    payload = json.loads(history.context_json())
    assert payload["instanceId"] == "p"
    assert payload["isReplaying"] is True
    assert [event["IsPlayed"] for event in payload["history"]][:3] == [False, True, True]
