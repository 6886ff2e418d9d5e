"""The in-process worker: user code in host threads; async activities cancelled on stop."""

from __future__ import annotations

import asyncio
import os

import pytest

from durable_local.functions.loader import LoadedApp
from durable_local.worker.inprocess import InProcessWorker
from durable_local.worker.invoke import ActivityCall
from tests.helpers.worker import WAIT, Outcomes

pytestmark = pytest.mark.timeout(60)


# --------------------------------------------------------------------------------------------
# InProcessWorker
# --------------------------------------------------------------------------------------------


async def test_in_process_worker_runs_activities_in_the_host_and_cancels_async_ones_on_stop(
    loaded: LoadedApp,
) -> None:
    events: list[str] = loaded.module.EVENTS
    events.clear()
    worker = InProcessWorker(loaded.registry, max_activities=2, app_dir=str(loaded.app_dir))
    outcomes = Outcomes()
    await worker.start(outcomes)
    assert worker.shares_host_process
    worker.submit_activities(
        [ActivityCall(1, "whoami", None), ActivityCall(2, "async_sleepy", "30")]
    )
    [here] = await outcomes.wait_for(1)
    assert here.result_json == str(os.getpid())
    async with asyncio.timeout(WAIT):
        while events != ["started"]:
            await asyncio.sleep(0.01)

    await worker.stop()

    async with asyncio.timeout(WAIT):
        while events != ["started", "cancelled"]:
            await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)  # an outcome from the stopped worker would arrive by now
    assert set(outcomes.by_key) == {1}
    assert asyncio.all_tasks() == {asyncio.current_task()}  # nothing left for the loop to destroy
