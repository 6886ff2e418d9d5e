"""Crash-test workload: run with ``python crash_worker.py DB LOG COUNT``.

Starts the ``COUNT`` instances ``crash-00``.. that do not exist yet on the SQLite file ``DB``
(never replacing one), then runs the runtime with the system clock until every one of them is
Completed, and exits. Each instance runs a chain of 3 activities, a fan-out of 5, a short durable
timer and a final activity; every activity execution appends one line (its key) to ``LOG``, so a
killed and restarted run shows which activities ran more than once.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from datetime import timedelta
from typing import Any

import azure.durable_functions as df

from durable_local.functions.registry import FunctionRegistry
from durable_local.model import RuntimeStatus
from durable_local.runtime.client import DurableRuntime
from durable_local.runtime.clock import SystemClock
from durable_local.store.sqlite import SqliteStore

# Activities handed to the worker at a time: small, so that the re-run bound below is tight.
ACTIVITY_WINDOW = 16
CHAIN = 3
FAN = 5
TIMER_SECONDS = 0.3
ACTIVITIES_PER_INSTANCE = CHAIN + FAN + 1

app = df.DFApp()
LOG_PATH = os.environ.get("CRASH_LOG", "")


def instance_id(n: int) -> str:
    return f"crash-{n:02d}"


def expected_output(n: int) -> dict[str, Any]:
    """What instance ``n`` must return (the test checks it)."""
    value = n
    for step in range(CHAIN):
        value = value * 3 + step
    fan = [value + k for k in range(FAN)]
    return {"n": n, "chain": value, "fan": fan, "final": sum(fan)}


@app.activity_trigger(input_name="job")
def crash_step(job: dict[str, Any]) -> int:
    # one line per execution; O_APPEND writes land whole even if we are killed right after
    line = f"{job['key']} {os.getpid()}\n".encode()
    fd = os.open(LOG_PATH, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)
    time.sleep(0.01)
    return int(job["value"])


@app.orchestration_trigger(context_name="context")
def crash_flow(context: df.DurableOrchestrationContext) -> Any:
    n = context.get_input()["n"]
    me = context.instance_id
    value = n
    for step in range(CHAIN):
        value = yield context.call_activity(
            "crash_step", {"key": f"{me}/chain{step}", "value": value * 3 + step}
        )
    fan = yield context.task_all(
        [
            context.call_activity("crash_step", {"key": f"{me}/fan{k}", "value": value + k})
            for k in range(FAN)
        ]
    )
    yield context.create_timer(context.current_utc_datetime + timedelta(seconds=TIMER_SECONDS))
    final = yield context.call_activity("crash_step", {"key": f"{me}/final", "value": sum(fan)})
    return {"n": n, "chain": value, "fan": fan, "final": final}


async def main(db: str, count: int) -> None:
    store = SqliteStore(db)
    runtime = DurableRuntime(
        FunctionRegistry.from_app(app),
        store,
        SystemClock(),
        max_concurrent_activities=8,
        activity_window=ACTIVITY_WINDOW,
        max_concurrent_orchestrations=8,
    )
    async with runtime:
        for n in range(count):
            if store.get_instance(instance_id(n)) is None:
                await runtime.start_new("crash_flow", json.dumps({"n": n}), instance_id(n))
        print("started", flush=True)
        while True:
            records = [store.get_instance(instance_id(n)) for n in range(count)]
            if all(r is not None and r.status.is_terminal for r in records):
                break
            await asyncio.sleep(0.05)
        done = sum(1 for r in records if r is not None and r.status == RuntimeStatus.COMPLETED)
        print(
            json.dumps(
                {
                    "completed": done,
                    "episodes": runtime.dispatcher.episodes_run,
                    "activities": runtime.dispatcher.activities_run,
                }
            ),
            flush=True,
        )
    store.close()


if __name__ == "__main__":
    db_path, LOG_PATH, total = sys.argv[1], sys.argv[2], int(sys.argv[3])
    asyncio.run(main(db_path, total))
