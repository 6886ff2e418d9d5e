"""Poison work is bounded: user code that kills the worker process (``os._exit``, as a segfault or
the out-of-memory killer would) is charged for it, and fails after ``crash_limit`` crashes with a
clear reason the orchestrator sees, while every other instance completes; terminating or purging
its instance drops its pending work, in the worker too.

Real worker processes (``ProcessWorker``) on ``tests/fixture_apps/poison_app``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

import pytest

from durable_local.functions.loader import LoadedApp
from durable_local.model import RuntimeStatus
from durable_local.runtime.client import DurableRuntime
from durable_local.runtime.clock import SystemClock
from durable_local.store.sqlite import SqliteStore
from durable_local.worker.process import ProcessWorker
from tests.fixture_apps import POISON_APP
from tests.helpers.apps import AppLoader

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

WAIT = 90.0  # each restart loads the app again: generous on a loaded machine
STEADY = 6  # innocent instances running beside the poison


@pytest.fixture
def poison(app_loader: AppLoader) -> LoadedApp:
    return app_loader(POISON_APP)


def make_runtime(
    loaded: LoadedApp, *, crash_limit: int = 3, restart_delay: float = 0.05
) -> tuple[DurableRuntime, ProcessWorker]:
    worker = ProcessWorker(
        str(loaded.app_dir), max_activities=4, max_orchestrations=4, restart_delay=restart_delay
    )
    runtime = DurableRuntime(
        loaded.registry,
        SqliteStore(":memory:"),
        SystemClock(),
        max_concurrent_activities=4,
        max_concurrent_orchestrations=4,
        app_dir=str(loaded.app_dir),
        worker=worker,
        crash_limit=crash_limit,
    )
    return runtime, worker


def runs(marker: Path) -> int:
    return len(marker.read_text().splitlines()) if marker.exists() else 0


async def start_steady(runtime: DurableRuntime) -> list[str]:
    return [await runtime.start_new("steady", json.dumps(n)) for n in range(1, STEADY + 1)]


async def assert_steady_completed(runtime: DurableRuntime, ids: list[str]) -> None:
    for n, instance_id in enumerate(ids, start=1):
        status = await runtime.wait_for_status(instance_id, timeout=WAIT)
        assert status["runtimeStatus"] == RuntimeStatus.COMPLETED.value, status
        assert status["output"] == [8 * n, 12]


@pytest.mark.parametrize("crash_limit", [1, 3])
async def test_an_activity_that_kills_the_worker_fails_its_task_after_the_crash_limit(
    poison: LoadedApp, tmp_path: Path, caplog: pytest.LogCaptureFixture, crash_limit: int
) -> None:
    marker = tmp_path / "flash-runs"
    runtime, worker = make_runtime(poison, crash_limit=crash_limit)
    with caplog.at_level(logging.ERROR):
        async with runtime:
            flash_id = await runtime.start_new("flash", json.dumps(str(marker)))
            steady_ids = await start_steady(runtime)

            flashed = await runtime.wait_for_status(flash_id, timeout=WAIT)
            await assert_steady_completed(runtime, steady_ids)

    # The orchestrator caught the failure like any activity failure, and completed.
    assert flashed["runtimeStatus"] == RuntimeStatus.COMPLETED.value
    crashes = runs(marker)
    reason = (
        "the worker process exited (code 1) while running activity 'flash_firmware', "
        f"{crashes} times"
    )
    assert reason in flashed["output"]["caught"]
    # Never more than the limit; one more only when its first crash was shared with innocent
    # activities (none of which failed), and a limit of 1 needs a conclusive crash.
    assert crashes == crash_limit or (crash_limit == 1 and crashes == 2)
    assert worker.restarts == crashes
    assert f"instance '{flash_id}': {reason}" in caplog.text


async def test_orchestrator_code_that_kills_the_worker_fails_its_instance(
    poison: LoadedApp, tmp_path: Path
) -> None:
    marker = tmp_path / "wedge-runs"
    runtime, worker = make_runtime(poison)
    async with runtime:
        wedge_id = await runtime.start_new("wedge", json.dumps(str(marker)))
        steady_ids = await start_steady(runtime)

        wedged = await runtime.wait_for_status(wedge_id, timeout=WAIT)
        await assert_steady_completed(runtime, steady_ids)

    assert wedged["runtimeStatus"] == RuntimeStatus.FAILED.value
    assert (
        "the worker process exited (code 1) while running orchestrator 'wedge', 3 times"
        in json.dumps(wedged["output"])
    )
    assert runs(marker) == 3
    assert worker.restarts == 3


@pytest.mark.parametrize("operation", ["terminate", "purge"])
async def test_terminate_and_purge_drop_the_work_the_worker_would_run_again(
    poison: LoadedApp, tmp_path: Path, operation: str
) -> None:
    marker = tmp_path / "flash-runs"
    # A slow restart: the first crash is seen, and the operation applied, before a successor
    # could run the activity again.
    runtime, worker = make_runtime(poison, restart_delay=2.0)
    async with runtime:
        flash_id = await runtime.start_new("flash", json.dumps(str(marker)))
        async with asyncio.timeout(WAIT):
            while runs(marker) < 1:
                await asyncio.sleep(0.01)

        if operation == "terminate":
            await runtime.terminate(flash_id, "bricked")
            status: dict[str, Any] = await runtime.wait_for_status(flash_id, timeout=WAIT)
            assert status["runtimeStatus"] == RuntimeStatus.TERMINATED.value
        else:
            await runtime.purge(flash_id)
        # The successor serves other work to the end, and never runs flash_firmware again.
        await assert_steady_completed(runtime, await start_steady(runtime))
        await runtime.wait_idle(timeout=WAIT)

    assert runs(marker) == 1
    assert worker.restarts == 1
