"""The language worker tests' function app (tests/durable_local/worker/), loaded by path.

Activities report where they ran (``whoami``), fail (``boom``), crash their own process once
(``die_once``), block (``sleepy``, ``async_sleepy``); orchestrators chain and fan out over them,
and ``stall`` sleeps inside its episode.
Module-level ``EVENTS`` is test instrumentation, read only when the app runs in the test process.
"""

import asyncio
import os
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any

import azure.durable_functions as df

Gen = Generator[Any, Any, Any]
app = df.DFApp()

EVENTS: list[str] = []  # what async_sleepy saw (in-process worker tests)


@app.activity_trigger(input_name="value")
def double(value: int) -> int:
    return value * 2


@app.activity_trigger(input_name="value")
async def async_double(value: int) -> int:
    await asyncio.sleep(0.01)
    return value * 2


@app.activity_trigger(input_name="value")
def echo(value: Any) -> Any:
    return value


@app.activity_trigger(input_name="unused")
def whoami(unused: Any) -> int:
    return os.getpid()


@app.activity_trigger(input_name="message")
def boom(message: str) -> None:
    raise ValueError(message)


@app.activity_trigger(input_name="marker")
def die_once(marker: str) -> str:
    """Kill the process running it, unless ``marker`` exists (it is created first)."""
    path = Path(marker)
    if not path.exists():
        path.write_text(str(os.getpid()))
        os._exit(3)
    return "survived"


@app.activity_trigger(input_name="seconds")
def sleepy(seconds: float) -> str:
    time.sleep(seconds)
    return "slept"


@app.activity_trigger(input_name="seconds")
async def async_sleepy(seconds: float) -> str:
    EVENTS.append("started")
    try:
        await asyncio.sleep(seconds)
    except asyncio.CancelledError:
        EVENTS.append("cancelled")
        raise
    EVENTS.append("finished")
    return "slept"


@app.orchestration_trigger(context_name="context")
def chain(context: df.DurableOrchestrationContext) -> Gen:
    value = context.get_input()
    a = yield context.call_activity("double", value)
    b = yield context.call_activity("async_double", a)
    c = yield context.call_activity("double", b)
    return [a, b, c]


@app.orchestration_trigger(context_name="context")
def fan(context: df.DurableOrchestrationContext) -> Gen:
    n = context.get_input()
    values = yield context.task_all([context.call_activity("double", i) for i in range(n)])
    return {"values": values, "sum": sum(values)}


@app.orchestration_trigger(context_name="context")
def stall(context: df.DurableOrchestrationContext) -> Gen:
    # Not deterministic, on purpose: it holds a worker thread for ``seconds`` of one episode.
    time.sleep(context.get_input())
    yield context.call_activity("echo", "late")


@app.orchestration_trigger(context_name="context")
def crashy(context: df.DurableOrchestrationContext) -> Gen:
    before = yield context.call_activity("whoami", None)
    survived = yield context.call_activity("die_once", context.get_input())
    after = yield context.call_activity("whoami", None)
    return {"before": before, "result": survived, "after": after}
