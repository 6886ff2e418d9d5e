"""Activity doubles: mock_activity swaps one activity's body by name, the orchestrator runs
through real replay around it, and the real activity comes back afterwards."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from durable_local.testing import DurableTestHost, NotAnActivityError, RuntimeStatus
from tests.fixture_apps import ORDERS_APP, TESTING_APP

ORDER = {"id": 42, "amount": 30}


async def test_a_sync_fake_replaces_an_activity_that_does_io() -> None:
    async with DurableTestHost(ORDERS_APP) as host:
        # charge_card would POST to PAYMENT_URL, which is not even set here.
        charge = host.mock_activity("charge_card", lambda order: f"receipt-{order['id']}")
        iid = await host.client.start_new("process_order", None, ORDER)
        status = await host.wait_for_status(iid, RuntimeStatus.COMPLETED)
        assert status.output == {"reservation": "R-42", "receipt": "receipt-42", "tracking": "T-42"}
        assert charge.calls == [ORDER]
        # The fake's result is recorded in history as the activity's.
        assert [c.result for c in host.activity_calls("charge_card")] == ["receipt-42"]


async def test_an_async_fake_is_awaited() -> None:
    async with DurableTestHost(ORDERS_APP) as host:

        async def price(line: dict[str, Any]) -> int:
            await asyncio.sleep(0)
            return 100 * int(line["qty"])

        host.mock_activity("price_item", price)
        lines = [{"sku": "apple", "qty": 1}, {"sku": "kiwi", "qty": 2}]
        iid = await host.client.start_new("price_basket", None, lines)
        assert (await host.wait_for_status(iid, RuntimeStatus.COMPLETED)).output == 300


async def test_a_fake_that_raises_fails_the_activity_as_the_real_one_would() -> None:
    async with DurableTestHost(ORDERS_APP) as host:

        def declined(order: dict[str, Any]) -> str:
            raise ConnectionError("card declined")

        host.mock_activity("charge_card", declined)
        iid = await host.client.start_new("process_order", None, ORDER)
        status = await host.wait_for_status(iid, RuntimeStatus.FAILED)
        assert "card declined" in str(status.output)
        (call,) = host.activity_calls("charge_card")
        assert call.failed
        assert call.reason == (
            "Activity function 'charge_card' failed:  ConnectionError: card declined"
        )
        assert host.custom_status(iid) == "reserved"


async def test_the_real_activity_is_back_after_the_with_block() -> None:
    async with DurableTestHost(TESTING_APP) as host:
        with host.mock_activity("note", lambda value: "fake") as mock:
            first = await host.client.start_new("tolerant")
            assert (await host.wait_for_status(first)).output == "fake"
        assert not mock.active
        second = await host.client.start_new("tolerant")
        assert (await host.wait_for_status(second)).output == "note recovered"


async def test_mocks_end_with_the_host() -> None:
    async with DurableTestHost(TESTING_APP) as host:
        mock = host.mock_activity("note", lambda value: "fake")
    assert not mock.active
    async with DurableTestHost(TESTING_APP) as host:
        iid = await host.client.start_new("tolerant")
        assert (await host.wait_for_status(iid)).output == "note recovered"


async def test_mocking_an_orchestrator_is_a_clear_error() -> None:
    async with DurableTestHost(ORDERS_APP) as host:
        with pytest.raises(NotAnActivityError) as caught:
            host.mock_activity("process_order", lambda order: None)
        message = str(caught.value)
        assert "'process_order': it is an orchestrator, not an activity" in message
        assert "charge_card, escalate, price_item" in message


async def test_mocking_an_unknown_name_lists_the_activities() -> None:
    async with DurableTestHost(ORDERS_APP) as host:
        with pytest.raises(NotAnActivityError, match="'send_sms': it is not an activity"):
            host.mock_activity("send_sms", lambda order: None)
        with pytest.raises(NotAnActivityError, match="an HTTP function"):
            host.mock_activity("start_order", lambda order: None)


async def test_a_fake_must_be_callable() -> None:
    async with DurableTestHost(ORDERS_APP) as host:
        with pytest.raises(TypeError, match="callable"):
            host.mock_activity("charge_card", "receipt-1")  # type: ignore[arg-type]
