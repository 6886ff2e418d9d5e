"""Timer triggers on durable-local, driven by a manual clock: occurrences fire when time passes
them, run-on-startup, schedules from app settings, the schedule status kept across a restart
(a missed occurrence runs once, past due), failures logged, and disabled functions."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from durable_local.cli import describe_functions
from durable_local.functions.settings import LoaderError
from durable_local.host import FunctionsHost, HostOptions
from durable_local.http import HostKeys
from durable_local.runtime.clock import ManualClock
from durable_local.testing import DurableTestHost, RuntimeStatus
from tests.fixture_apps import TIMER_APP
from tests.helpers.apps import loaded_app

START = datetime(2030, 6, 1, 1, 0, tzinfo=UTC)  # 01:00 UTC, a Saturday


async def runs_of(module: Any, name: str, count: int = 1, timeout: float = 10.0) -> list[bool]:
    """Wait until ``name`` ran ``count`` times; its past_due flags."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        flags = [past_due for function, past_due in module.RUNS if function == name]
        if len(flags) >= count or loop.time() > deadline:
            return flags
        await asyncio.sleep(0.01)


async def test_run_on_startup_runs_once_when_the_host_starts() -> None:
    async with DurableTestHost(TIMER_APP, start_time=START) as host:
        app = host.loaded.module
        assert await runs_of(app, "hourly_cleanup") == [False]
        await asyncio.sleep(0.05)
        assert [f for f, _ in app.RUNS].count("hourly_cleanup") == 1  # the clock stood still


async def test_an_occurrence_fires_when_the_clock_passes_it_and_its_client_starts_work() -> None:
    async with DurableTestHost(TIMER_APP, start_time=START) as host:
        app = host.loaded.module
        await host.advance(timedelta(minutes=29))
        assert await runs_of(app, "nightly_sync", timeout=0.2) == []  # 01:29: not yet
        await host.advance(timedelta(minutes=1))  # 01:30
        assert await runs_of(app, "nightly_sync") == [False]
        for _ in range(500):  # the function is still starting its orchestration
            if app.STARTED:
                break
            await asyncio.sleep(0.01)
        [instance_id] = app.STARTED
        status = await host.wait_for_status(instance_id, RuntimeStatus.COMPLETED)
        assert status.output == "synced night=True"


async def test_a_schedule_from_an_app_setting_and_its_kept_status() -> None:
    settings = {"POLL_SCHEDULE": "0 0/20 * * * *"}
    async with DurableTestHost(TIMER_APP, start_time=START, settings=settings) as host:
        app = host.loaded.module
        await host.advance(timedelta(minutes=10))
        assert await runs_of(app, "poll", timeout=0.2) == []
        await host.advance(timedelta(minutes=10))  # 01:20
        assert await runs_of(app, "poll") == [False]
        await asyncio.sleep(0.05)
        status = json.loads(host.runtime.store.get_schedule_status("poll") or "{}")
        assert status["Last"] == "2030-06-01T01:20:00+00:00"
        assert status["Next"] == "2030-06-01T01:40:00+00:00"


async def test_an_occurrence_missed_while_down_runs_once_past_due_at_start(tmp_path: Path) -> None:
    store = str(tmp_path / "durable.db")
    clock = ManualClock(START)
    with loaded_app(TIMER_APP) as loaded:
        first = FunctionsHost(loaded, HostOptions(store=store, clock=clock, in_process=True))
        await first.serve("127.0.0.1", 0)
        await runs_of(loaded.module, "hourly_cleanup")
        await first.close()
        assert [f for f, _ in loaded.module.RUNS if f == "poll"] == []
        clock.advance(timedelta(hours=2))  # down over several 10-minute occurrences
        second = FunctionsHost(loaded, HostOptions(store=store, clock=clock, in_process=True))
        await second.serve("127.0.0.1", 0)
        try:
            assert await runs_of(loaded.module, "poll") == [True]
            await asyncio.sleep(0.05)
            assert [f for f, _ in loaded.module.RUNS].count("poll") == 1  # once, not 12 times
        finally:
            await second.close()


async def test_a_failing_timer_is_logged_and_keeps_its_schedule(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="durable_local.triggers")
    async with DurableTestHost(TIMER_APP, start_time=START) as host:
        app = host.loaded.module
        await host.advance(timedelta(minutes=5))
        assert await runs_of(app, "flaky") == [False]
        await host.advance(timedelta(minutes=5))
        assert await runs_of(app, "flaky", count=2) == [False, False]
        await asyncio.sleep(0.05)
    failures = [
        r.getMessage() for r in caplog.records if "Functions.flaky' (Failed" in r.getMessage()
    ]
    assert len(failures) == 2
    assert "RuntimeError: the downstream service is down" in failures[0]


async def test_disabled_functions_are_not_run_routed_or_callable() -> None:
    async with DurableTestHost(TIMER_APP, start_time=START) as host:
        app = host.loaded.module
        disabled = {(f.function_name, f.trigger_type) for f in host.loaded.registry.disabled}
        assert disabled == {
            ("switched_off", "timerTrigger"),
            ("retired_step", "activityTrigger"),
            ("old_route", "httpTrigger"),
        }
        await host.advance(timedelta(minutes=5))
        assert await runs_of(app, "flaky") == [False]
        assert await runs_of(app, "switched_off", timeout=0.1) == []

        assert (await host.http.get("/api/ping")).status == 200
        assert (await host.http.get("/api/old")).status == 404

        instance_id = await host.client.start_new("calls_a_disabled_activity")
        status = await host.wait_for_status(instance_id, RuntimeStatus.FAILED)
        assert "The function 'retired_step' doesn't exist, is disabled" in str(status.output)


async def test_run_a_timer_function_by_hand_through_the_admin_api() -> None:
    async with DurableTestHost(TIMER_APP, start_time=START) as host:
        app = host.loaded.module
        response = await host.http.post("/admin/functions/nightly_sync", json={"input": ""})
        assert response.status == 202
        assert await response.json() == {"function": "nightly_sync", "status": "Accepted"}
        assert await runs_of(app, "nightly_sync") == [False]

        answers = {
            "ping": 400,  # an HTTP function: call its route
            "sync_orchestrator": 400,
            "switched_off": 400,  # disabled
            "no_such_function": 404,
        }
        for name, code in answers.items():
            refused = await host.http.post(f"/admin/functions/{name}")
            assert refused.status == code, name
            assert "error" in (await refused.json()) or "Message" in (await refused.json())
        bad = await host.http.post("/admin/functions/nightly_sync", data="{not json")
        assert bad.status == 400


def test_a_schedule_the_host_would_refuse_stops_the_start(monkeypatch: pytest.MonkeyPatch) -> None:
    with loaded_app(TIMER_APP) as loaded:
        monkeypatch.setenv("POLL_SCHEDULE", "*/5 * * * *")  # five fields
        with pytest.raises(LoaderError, match=r"Timer function 'poll'.*six fields"):
            FunctionsHost(loaded, HostOptions(in_process=True))


def test_the_start_banner_lists_each_timer_with_its_next_five_occurrences() -> None:
    with loaded_app(TIMER_APP) as loaded:
        host = FunctionsHost(loaded, HostOptions(in_process=True))
        text = describe_functions(
            loaded, "http://127.0.0.1:7071", "api", host.timers.timers.values(), now=START
        )
        host.store.close()
    assert "The next 5 occurrences of the 'nightly_sync' schedule (Cron: '0 30 1 * * *')" in text
    assert "2030-06-01T01:30:00+00:00 (2030-06-01T01:30:00Z)" in text
    assert "2030-06-05T01:30:00+00:00 (2030-06-05T01:30:00Z)" in text
    assert "switched_off: timerTrigger -- disabled" in text


async def test_running_a_function_by_hand_needs_the_master_key_when_keys_are_enforced() -> None:
    keys = HostKeys(function_keys=("fn",), master_key="master", system_key="system")
    async with DurableTestHost(TIMER_APP, start_time=START, keys=keys) as host:
        assert (await host.http.post("/admin/functions/poll")).status == 401
        function_key = await host.http.post(
            "/admin/functions/poll", headers={"x-functions-key": "fn"}
        )
        assert function_key.status == 401
        master = await host.http.post(
            "/admin/functions/poll", headers={"x-functions-key": "master"}
        )
        assert master.status == 202
        assert await runs_of(host.loaded.module, "poll") == [False]
