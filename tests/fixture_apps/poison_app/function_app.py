"""Hostile functions for the reliability tests (tests/durable_local/runtime/test_poison.py).

``flash_firmware`` kills the worker process every time it runs (as a segfault or the out-of-memory
killer would), after appending a line to the file it is given, so a test counts its runs;
``wedge`` does the same from orchestrator code. ``flash`` catches the activity's failure as an
orchestrator does; ``steady`` is the innocent work that must complete meanwhile. ``hang`` sleeps
past any functionTimeout (``hang_flow`` catches its failure) and ``spin`` never ends its episode.
HTTP functions: ``nap`` blocks in an ``async def`` (``time.sleep``), ``state`` shows the process
and the module counter that the ``bump`` activity (``bumper``) increments.
"""

import os
import time
from collections.abc import Generator
from typing import Any

import azure.durable_functions as df
import azure.functions as func

Gen = Generator[Any, Any, Any]
app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)
BUMPS = [0]  # module state, as an app keeps a cache or a connection pool


def _count_run(path: str) -> None:
    # O_APPEND: the line lands whole even though the process dies right after.
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, f"{os.getpid()}\n".encode())
    finally:
        os.close(fd)


@app.activity_trigger(input_name="marker")
def flash_firmware(marker: str) -> str:
    _count_run(marker)
    time.sleep(0.05)  # others are running beside it when it dies
    os._exit(1)


@app.activity_trigger(input_name="value")
def slow_double(value: int) -> int:
    time.sleep(0.02)
    return value * 2


@app.orchestration_trigger(context_name="context")
def flash(context: df.DurableOrchestrationContext) -> Gen:
    try:
        yield context.call_activity("flash_firmware", context.get_input())
    except Exception as exc:
        return {"caught": str(exc)}
    return {"caught": None}


@app.orchestration_trigger(context_name="context")
def steady(context: df.DurableOrchestrationContext) -> Gen:
    value = context.get_input()
    for _ in range(3):
        value = yield context.call_activity("slow_double", value)
    fanned = yield context.task_all([context.call_activity("slow_double", i) for i in range(4)])
    return [value, sum(fanned)]


@app.orchestration_trigger(context_name="context")
def wedge(context: df.DurableOrchestrationContext) -> Gen:
    _count_run(context.get_input())
    os._exit(1)
    yield context.call_activity("slow_double", 1)  # never reached: a generator all the same


@app.activity_trigger(input_name="seconds")
def hang(seconds: float) -> str:
    time.sleep(seconds)  # hung on a dead connection, say
    return "woke up"


@app.orchestration_trigger(context_name="context")
def hang_flow(context: df.DurableOrchestrationContext) -> Gen:
    try:
        result = yield context.call_activity("hang", context.get_input())
    except Exception as exc:
        return {"caught": str(exc)}
    return {"result": result}


@app.orchestration_trigger(context_name="context")
def spin(context: df.DurableOrchestrationContext) -> Gen:
    while True:  # an orchestrator that never yields: its episode never ends
        time.sleep(0.01)
    yield context.call_activity("slow_double", 1)


@app.activity_trigger(input_name="unused")
def bump(unused: Any) -> int:
    BUMPS[0] += 1
    return BUMPS[0]


@app.orchestration_trigger(context_name="context")
def bumper(context: df.DurableOrchestrationContext) -> Gen:
    return (yield context.call_activity("bump", None))


@app.route(route="nap")
async def nap(req: func.HttpRequest) -> func.HttpResponse:
    time.sleep(float(req.params.get("seconds", "1")))  # blocking, in an async def
    return func.HttpResponse("rested")


@app.route(route="state")
def state(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(f"{os.getpid()} {BUMPS[0]}")
