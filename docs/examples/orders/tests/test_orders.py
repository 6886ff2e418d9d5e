"""The tests of the testing guide (docs/testing.md): each code block of the guide is a piece
of this file, and tests/durable_local/testing/test_guide.py runs it."""

from datetime import timedelta
from pathlib import Path

import pytest

from durable_local.testing import DurableTestHost, HistoryBuilder, RuntimeStatus
from function_app import process_order

ORDER = {"id": 7, "amount": 30}
APP_DIR = Path(__file__).parents[1]


# -- a chain -----------------------------------------------------------------------------------
async def test_an_order_is_reserved_charged_and_shipped(durable_host: DurableTestHost) -> None:
    durable_host.mock_activity("charge_card", lambda order: f"receipt-{order['id']}")

    response = await durable_host.http.post("/api/orders/process_order", json=ORDER)
    assert response.status == 202
    instance_id = (await response.json())["id"]

    status = await durable_host.wait_for_status(instance_id, RuntimeStatus.COMPLETED)
    assert status.output == {"reservation": "R-7", "receipt": "receipt-7", "tracking": "T-7"}
    assert status.custom_status == "shipped"
    steps = [e.name for e in durable_host.history(instance_id) if e.type == "TaskScheduled"]
    assert steps == ["reserve_stock", "charge_card", "ship"]


# -- a fan-out ---------------------------------------------------------------------------------
async def test_a_basket_is_priced_line_by_line_in_parallel(durable_host: DurableTestHost) -> None:
    lines = [{"sku": "apple", "qty": 2}, {"sku": "pear", "qty": 1}, {"sku": "plum", "qty": 3}]
    instance_id = await durable_host.client.start_new("price_basket", None, lines)

    status = await durable_host.wait_for_status(instance_id, RuntimeStatus.COMPLETED)
    assert status.output == 6 + 4 + 15
    calls = durable_host.activity_calls("price_item")
    assert sorted(call.result for call in calls) == [4, 6, 15]
    # All three were scheduled by the first episode, before any of them completed.
    history = durable_host.history(instance_id)
    first_episode = history[: [e.type for e in history].index("OrchestratorCompleted")]
    assert [e.name for e in first_episode if e.type == "TaskScheduled"] == ["price_item"] * 3


# -- a human approval with a 72-hour timeout ---------------------------------------------------
@pytest.mark.durable_app(".", auto_advance=True)
async def test_an_unanswered_refund_is_escalated_after_72_hours(
    durable_host: DurableTestHost,
) -> None:
    started = durable_host.now
    instance_id = await durable_host.client.start_new("approve_refund", None, {"id": "RF-1"})

    status = await durable_host.wait_for_status(instance_id, RuntimeStatus.COMPLETED)
    assert status.output == "escalated"
    assert durable_host.now - started == timedelta(hours=72)


async def test_an_approval_before_the_deadline_wins(durable_host: DurableTestHost) -> None:
    instance_id = await durable_host.client.start_new("approve_refund", None, {"id": "RF-2"})
    await durable_host.advance(timedelta(hours=71))

    await durable_host.client.raise_event(instance_id, "Approval", {"approved": True})

    status = await durable_host.wait_for_status(instance_id, RuntimeStatus.COMPLETED)
    assert status.output == "approved"
    assert durable_host.activity_calls("escalate") == []


# -- a mocked activity -------------------------------------------------------------------------
async def test_a_declined_card_fails_the_order(durable_host: DurableTestHost) -> None:
    def declined(order: dict[str, object]) -> str:
        raise ConnectionError("card declined")

    charge = durable_host.mock_activity("charge_card", declined)
    instance_id = await durable_host.client.start_new("process_order", None, ORDER)

    status = await durable_host.wait_for_status(instance_id, RuntimeStatus.FAILED)
    assert "card declined" in str(status.output)
    assert charge.calls == [ORDER]
    assert durable_host.custom_status(instance_id) == "reserved"
    assert durable_host.activity_calls("ship") == []


# -- a replay test -----------------------------------------------------------------------------
def test_the_card_is_charged_once_the_stock_is_reserved(
    history_builder: type[HistoryBuilder],
) -> None:
    history = (
        history_builder("process_order", input=ORDER)
        .task_scheduled(0, "reserve_stock", ORDER)
        .orchestrator_completed()
        .orchestrator_started()
        .task_completed(0, "R-7")
    )

    result = history.replay(process_order)

    assert not result.done
    assert result.custom_status == "reserved"
    assert [(a["functionName"], a["input"]) for a in result.actions] == [
        ("reserve_stock", '{"id": 7, "amount": 30}'),
        ("charge_card", '{"id": 7, "amount": 30}'),
    ]


# -- without the plugin ------------------------------------------------------------------------
async def test_a_host_of_your_own() -> None:
    async with DurableTestHost(APP_DIR, settings={"PAYMENT_URL": "http://payments.test"}) as host:
        with host.mock_activity("charge_card", lambda order: "receipt-1") as charge:
            instance_id = await host.client.start_new("process_order", None, ORDER)
            status = await host.wait_for_status(instance_id, RuntimeStatus.COMPLETED)
        assert status.output["receipt"] == "receipt-1"
        assert len(charge.calls) == 1
