"""Time skipping: advance() fires every timer due in the span, in order and at its own time
(also timers created by episodes woken inside the span); auto_advance skips to the next timer
whenever the runtime is idle; the system clock refuses both."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from durable_local.testing import DurableTestHost, RuntimeStatus, TimeSkippingError
from tests.fixture_apps import ORDERS_APP, TESTING_APP

START = datetime(2030, 6, 1, 8, 0, tzinfo=UTC)


async def test_advance_fires_timers_created_by_episodes_woken_inside_the_span() -> None:
    async with DurableTestHost(TESTING_APP, start_time=START) as host:
        iid = await host.client.start_new("reminders", None, 3)
        await host.wait_idle()
        assert host.status(iid).runtime_status == RuntimeStatus.RUNNING

        # Each reminder's timer is created by the episode the previous one woke: one jump to
        # the end of the span would fire only the first.
        await host.advance(timedelta(hours=3))

        status = await host.wait_for_status(iid, RuntimeStatus.COMPLETED, timeout=1)
        assert status.output == ["note 0", "note 1", "note 2"]
        fired = [e for e in host.history(iid) if e.type == "TimerFired"]
        assert [e.fire_at for e in fired] == [START + timedelta(hours=h) for h in (1, 2, 3)]
        assert host.now == START + timedelta(hours=3)


async def test_every_timer_fires_at_its_own_time_in_order() -> None:
    async with DurableTestHost(TESTING_APP, start_time=START) as host:
        late = await host.client.start_new("sleeper", None, 5)
        early = await host.client.start_new("sleeper", None, 2)
        await host.wait_idle()

        await host.advance(timedelta(days=1))

        # Each orchestration woke at the time it asked for, not at the end of the span.
        woke_early = (await host.wait_for_status(early)).output
        woke_late = (await host.wait_for_status(late)).output
        assert woke_early == (START + timedelta(hours=2)).isoformat()
        assert woke_late == (START + timedelta(hours=5)).isoformat()
        assert host.now == START + timedelta(days=1)


async def test_advance_stops_at_the_end_of_the_span() -> None:
    async with DurableTestHost(TESTING_APP, start_time=START) as host:
        iid = await host.client.start_new("reminders", None, 3)
        await host.wait_idle()
        await host.advance(timedelta(minutes=150))
        assert host.custom_status(iid) == {"sent": 2}
        assert host.status(iid).runtime_status == RuntimeStatus.RUNNING
        await host.advance(1800)  # seconds
        assert host.custom_status(iid) == {"sent": 3}
        assert host.status(iid).runtime_status == RuntimeStatus.COMPLETED


async def test_time_only_moves_forward() -> None:
    async with DurableTestHost(TESTING_APP) as host:
        with pytest.raises(ValueError, match="forward"):
            await host.advance(timedelta(seconds=-1))


async def test_auto_advance_runs_a_72_hour_approval_timeout_at_once() -> None:
    async with DurableTestHost(ORDERS_APP, auto_advance=True, start_time=START) as host:
        iid = await host.client.start_new("approve_refund", None, {"id": "RF-1"})
        status = await host.wait_for_status(iid, RuntimeStatus.COMPLETED, timeout=10)
        assert status.output == "escalated"
        assert host.now == START + timedelta(hours=72)
        assert [call.result for call in host.activity_calls("escalate")] == ["escalated RF-1"]


async def test_auto_advance_can_be_switched_on_and_off() -> None:
    async with DurableTestHost(TESTING_APP, start_time=START) as host:
        assert not host.auto_advance
        first = await host.client.start_new("sleeper", None, 10)
        host.auto_advance = True
        assert host.auto_advance
        await host.wait_for_status(first, RuntimeStatus.COMPLETED, timeout=10)
        host.auto_advance = False
        assert not host.auto_advance
        second = await host.client.start_new("sleeper", None, 10)
        await host.wait_idle()
        assert host.status(second).runtime_status == RuntimeStatus.RUNNING
        assert host.now == START + timedelta(hours=10)


async def test_the_system_clock_cannot_be_advanced() -> None:
    async with DurableTestHost(TESTING_APP, clock="system") as host:
        before = host.now
        with pytest.raises(TimeSkippingError, match="system clock"):
            await host.advance(timedelta(hours=1))
        with pytest.raises(TimeSkippingError, match="system clock"):
            host.auto_advance = True
        assert host.now - before < timedelta(hours=1)
        # It still runs orchestrations in wall time.
        iid = await host.client.start_new("sleeper", None, 0)
        assert (await host.wait_for_status(iid)).runtime_status == RuntimeStatus.COMPLETED


def test_auto_advance_on_the_system_clock_is_refused_up_front() -> None:
    with pytest.raises(TimeSkippingError, match="manual clock"):
        DurableTestHost(TESTING_APP, clock="system", auto_advance=True)
