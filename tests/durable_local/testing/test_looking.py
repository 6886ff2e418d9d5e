"""Waiting and looking: wait_for_status (unknown instances, unexpected final statuses,
timeouts that say why), wait_idle, typed history, activity calls and custom status."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from durable_local.testing import (
    DurableTestHost,
    RuntimeStatus,
    UnexpectedStatusError,
    UnknownInstanceError,
    WaitTimeoutError,
)
from tests.fixture_apps import ORDERS_APP, TESTING_APP

START = datetime(2030, 6, 1, 8, 0, tzinfo=UTC)


async def test_waiting_on_an_unknown_instance_is_a_clear_error() -> None:
    async with DurableTestHost(TESTING_APP) as host:
        with pytest.raises(UnknownInstanceError, match=r"'nope'.*Was it started"):
            await host.wait_for_status("nope", timeout=5)
        for look in (host.status, host.history, host.custom_status):
            with pytest.raises(UnknownInstanceError, match="'nope'"):
                look("nope")


async def test_an_instance_that_ends_in_another_status_fails_the_wait_at_once() -> None:
    async with DurableTestHost(TESTING_APP) as host:
        iid = await host.client.start_new("fragile", None, "x")
        with pytest.raises(UnexpectedStatusError) as caught:
            await host.wait_for_status(iid, RuntimeStatus.COMPLETED, timeout=10)
        assert caught.value.status == "Failed"
        assert "boom x" in str(caught.value)
        # Waiting for any final status (the default) returns the failure.
        status = await host.wait_for_status(iid)
        assert status.runtime_status == RuntimeStatus.FAILED
        assert "boom x" in str(status.output)


async def test_a_wait_that_times_out_says_a_timer_is_pending_on_the_manual_clock() -> None:
    async with DurableTestHost(TESTING_APP, start_time=START) as host:
        iid = await host.client.start_new("sleeper", None, 1)
        status = await host.wait_for_status(iid, RuntimeStatus.RUNNING)
        assert status.name == "sleeper"
        with pytest.raises(WaitTimeoutError, match=r"is Running.*advance\(\)"):
            await host.wait_for_status(iid, timeout=0.2)


async def test_history_is_typed_events_with_parsed_payloads() -> None:
    async with DurableTestHost(TESTING_APP, start_time=START) as host:
        iid = await host.client.start_new("reminders", None, 1)
        await host.advance(timedelta(hours=1))
        events = host.history(iid)
        assert [e.type for e in events] == [
            "OrchestratorStarted",
            "ExecutionStarted",
            "TimerCreated",
            "OrchestratorCompleted",
            "OrchestratorStarted",
            "TimerFired",
            "TaskScheduled",
            "OrchestratorCompleted",
            "OrchestratorStarted",
            "TaskCompleted",
            "ExecutionCompleted",
            "OrchestratorCompleted",
        ]
        started, created, fired, scheduled, completed, finished = (
            events[1],
            events[2],
            events[5],
            events[6],
            events[9],
            events[10],
        )
        assert started.name == "reminders"
        assert started.input == "1"  # the SDK client sends its input as JSON text
        assert created.event_id == 0
        assert created.fire_at == START + timedelta(hours=1)
        assert fired.task_id == 0
        assert fired.timestamp == START + timedelta(hours=1)
        assert (scheduled.name, scheduled.input, scheduled.event_id) == ("note", 0, 1)
        assert (completed.task_id, completed.result) == (1, "note 0")
        assert finished.result == ["note 0"]
        assert finished.raw["EventType"] == 1


async def test_activity_calls_pair_inputs_with_results_and_failures() -> None:
    async with DurableTestHost(TESTING_APP) as host:
        first = await host.client.start_new("tolerant", "first-instance")
        await host.wait_for_status(first)
        second = await host.client.start_new("tolerant", "second-instance")
        await host.wait_for_status(second)

        exploded = host.activity_calls("explode")
        assert [call.instance_id for call in exploded] == [first, second]
        assert all(call.completed and call.failed for call in exploded)
        assert exploded[0].input == "first"
        assert exploded[0].reason is not None and "boom first" in exploded[0].reason

        notes = host.activity_calls("NOTE", instance_id=second)  # names ignore case
        assert [(c.name, c.input, c.result, c.failed) for c in notes] == [
            ("note", "recovered", "note recovered", False)
        ]
        assert len(host.activity_calls(instance_id=first)) == 2
        assert host.activity_calls("never_called") == []


async def test_pending_activity_calls_are_listed_as_not_completed() -> None:
    async with DurableTestHost(ORDERS_APP) as host:
        host.mock_activity("request_approval", lambda refund: "asked")
        iid = await host.client.start_new("approve_refund", None, {"id": "RF-9"})
        await host.wait_idle()
        assert [(c.input, c.result) for c in host.activity_calls("request_approval")] == [
            ({"id": "RF-9"}, "asked")
        ]
        assert host.custom_status(iid) is None
        assert host.activity_calls("escalate") == []


async def test_custom_status_follows_the_orchestration() -> None:
    async with DurableTestHost(TESTING_APP) as host:
        iid = await host.client.start_new("reminders", None, 2)
        await host.wait_idle()
        assert host.custom_status(iid) is None
        await host.advance(timedelta(hours=1))
        assert host.custom_status(iid) == {"sent": 1}
        await host.advance(timedelta(hours=1))
        assert host.custom_status(iid) == {"sent": 2}


async def test_wait_idle_returns_with_timers_pending() -> None:
    async with DurableTestHost(TESTING_APP) as host:
        iid = await host.client.start_new("sleeper", None, 100)
        await host.wait_idle(timeout=10)
        assert [e.type for e in host.history(iid)][-2:] == ["TimerCreated", "OrchestratorCompleted"]
