"""functionTimeout applies to user code in the worker process: a hung activity fails its task with
the host's timeout message, an orchestrator episode that never ends fails its instance, and the
worker is recycled (a thread cannot be stopped) while everything else is retried uncharged. A
stuck episode never blocks terminate.

Real worker processes (``ProcessWorker``) on ``tests/fixture_apps/poison_app``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import pytest

from durable_local.functions.loader import LoadedApp
from durable_local.functions.settings import (
    DEFAULT_FUNCTION_TIMEOUT,
    LoaderError,
    read_host_json,
)
from durable_local.model import RuntimeStatus
from durable_local.runtime.client import DurableRuntime
from durable_local.runtime.clock import SystemClock
from durable_local.store.sqlite import SqliteStore
from durable_local.worker.process import ProcessWorker
from tests.fixture_apps import POISON_APP
from tests.helpers.apps import AppLoader

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

WAIT = 90.0
STEADY = 4


@pytest.fixture
def poison(app_loader: AppLoader) -> LoadedApp:
    return app_loader(POISON_APP)


def make_runtime(
    loaded: LoadedApp, function_timeout: float | None
) -> tuple[DurableRuntime, ProcessWorker]:
    worker = ProcessWorker(
        str(loaded.app_dir),
        max_activities=4,
        max_orchestrations=4,
        restart_delay=0.05,
        function_timeout=function_timeout,
    )
    runtime = DurableRuntime(
        loaded.registry,
        SqliteStore(":memory:"),
        SystemClock(),
        max_concurrent_activities=4,
        max_concurrent_orchestrations=4,
        app_dir=str(loaded.app_dir),
        worker=worker,
    )
    return runtime, worker


async def run_steady(runtime: DurableRuntime) -> None:
    ids = [await runtime.start_new("steady", json.dumps(n)) for n in range(1, STEADY + 1)]
    for n, instance_id in enumerate(ids, start=1):
        status = await runtime.wait_for_status(instance_id, timeout=WAIT)
        assert status["runtimeStatus"] == RuntimeStatus.COMPLETED.value, status
        assert status["output"] == [8 * n, 12]


async def test_a_hung_activity_fails_with_the_hosts_timeout_message(
    poison: LoadedApp, caplog: pytest.LogCaptureFixture
) -> None:
    runtime, worker = make_runtime(poison, function_timeout=2.0)
    with caplog.at_level(logging.ERROR):
        async with runtime:
            hung = [await runtime.start_new("hang_flow", json.dumps(3600)) for _ in range(4)]
            await run_steady(runtime)  # while four hung activities hold every activity thread

            for instance_id in hung:
                status = await runtime.wait_for_status(instance_id, timeout=WAIT)
                assert status["runtimeStatus"] == RuntimeStatus.COMPLETED.value
                # The SDK's message: the task's reason, then its details.
                assert status["output"]["caught"].startswith(
                    "Timeout value of 00:00:02 was exceeded by function: Functions.hang"
                )
            await run_steady(runtime)

    assert worker.restarts >= 1
    assert "timeout value of 00:00:02 exceeded by activity 'hang'" in caplog.text


async def test_an_episode_that_never_ends_fails_its_instance(poison: LoadedApp) -> None:
    runtime, worker = make_runtime(poison, function_timeout=2.0)
    async with runtime:
        spinning = await runtime.start_new("spin")
        await run_steady(runtime)

        status = await runtime.wait_for_status(spinning, timeout=WAIT)
        await run_steady(runtime)

    assert status["runtimeStatus"] == RuntimeStatus.FAILED.value
    assert "Timeout value of 00:00:02 was exceeded by function: Functions.spin" in json.dumps(
        status["output"]
    )
    assert worker.restarts == 1


async def test_a_stuck_episode_never_blocks_terminate(poison: LoadedApp) -> None:
    runtime, worker = make_runtime(poison, function_timeout=None)  # stuck for good
    async with runtime:
        stuck = [await runtime.start_new("spin") for _ in range(4)]  # every episode slot
        async with asyncio.timeout(WAIT):
            while worker.episodes_in_progress < 4:
                await asyncio.sleep(0.01)

        for instance_id in stuck:
            await runtime.terminate(instance_id, "stuck")
        for instance_id in stuck:
            status = await runtime.wait_for_status(instance_id, timeout=WAIT)
            assert status["runtimeStatus"] == RuntimeStatus.TERMINATED.value
            assert status["output"] == "stuck"
        # Still stuck in user code (only functionTimeout recycles them): discarded when they end.
        assert worker.episodes_in_progress == 4


def test_function_timeout_comes_from_host_json(tmp_path: Path) -> None:
    (tmp_path / "host.json").write_text('{"version": "2.0"}')
    assert read_host_json(tmp_path).function_timeout == DEFAULT_FUNCTION_TIMEOUT == 1800.0
    for text, seconds in [("00:05:00", 300.0), ("1.02:00:00", 93600.0), ("-1", None)]:
        (tmp_path / "host.json").write_text(json.dumps({"functionTimeout": text}))
        assert read_host_json(tmp_path).function_timeout == seconds
    for bad in ["5 minutes", "00:00:00", "00:00:00.5"]:
        (tmp_path / "host.json").write_text(json.dumps({"functionTimeout": bad}))
        with pytest.raises(LoaderError, match="functionTimeout"):
            read_host_json(tmp_path)
