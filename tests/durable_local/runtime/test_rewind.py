"""Rewind of failed instances whose history holds a retry chain (spec §7.6, §7.8)."""

from __future__ import annotations

from typing import Any

import azure.durable_functions as df

from durable_local.functions.registry import FunctionRegistry
from durable_local.runtime.client import DurableRuntime
from durable_local.runtime.clock import ManualClock
from durable_local.store.sqlite import SqliteStore

app = df.DFApp()
storage = {"down": True, "calls": 0}


@app.orchestration_trigger(context_name="context")
def upload_with_retry(context: df.DurableOrchestrationContext) -> Any:
    first = yield context.call_activity("prepare", "a")
    options = df.RetryOptions(first_retry_interval_in_milliseconds=1000, max_number_of_attempts=2)
    second = yield context.call_activity_with_retry("upload", options, "x")
    return [first, second]


@app.activity_trigger(input_name="value")
def prepare(value: str) -> str:
    return value


@app.activity_trigger(input_name="value")
def upload(value: str) -> str:
    storage["calls"] += 1
    if storage["down"]:
        raise ConnectionError("storage is down")
    return "uploaded"


REGISTRY = FunctionRegistry.from_app(app)


async def _settle(runtime: DurableRuntime, clock: ManualClock) -> None:
    for _ in range(6):
        await runtime.wait_idle()
        clock.advance(2)
    await runtime.wait_idle()


async def test_rewind_after_an_exhausted_retry_chain_completes_the_instance() -> None:
    storage.update(down=True, calls=0)
    clock = ManualClock()
    async with DurableRuntime(REGISTRY, SqliteStore(), clock) as runtime:
        instance_id = await runtime.start_new("upload_with_retry", None, "rw-retry")
        await _settle(runtime, clock)
        failed = await runtime.get_status(instance_id)
        assert failed["runtimeStatus"] == "Failed"
        assert "storage is down" in failed["output"]
        assert storage["calls"] == 2  # both attempts of the retry chain ran

        storage["down"] = False
        await runtime.rewind(instance_id, "storage is back")
        await _settle(runtime, clock)
        done = await runtime.get_status(instance_id, show_history=True)
        assert done["runtimeStatus"] == "Completed"
        assert done["output"] == ["a", "uploaded"]
        assert storage["calls"] == 3  # only the failed work ran again
        kinds = [row["EventType"] for row in done["historyEvents"]]
        assert "ExecutionRewound" in kinds
        assert kinds.count("TaskCompleted") == 2  # prepare kept its result; upload succeeded
