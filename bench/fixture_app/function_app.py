"""The benchmark's own function app (not the product app): loaded by durable-local's loader.

* ``bench_chain``: N activities one after another (input: N).
* ``bench_fan``: N activities at once, then one fan-in (input: N).
* ``bench_events``: waits for N ``tick`` external events, one at a time, in a loop (input: N).
* ``bench_small``: start -> 3 activities -> done (the concurrency and soak workloads).
* ``bench_noop``: the activity: returns its input.
"""

from collections.abc import Generator
from typing import Any

import azure.durable_functions as df

Gen = Generator[Any, Any, Any]
app = df.DFApp()


@app.orchestration_trigger(context_name="context")
def bench_chain(context: df.DurableOrchestrationContext) -> Gen:
    n = int(context.get_input())  # started with the count as a JSON string
    total = 0
    for i in range(n):
        total += yield context.call_activity("bench_noop", i)
    return total


@app.orchestration_trigger(context_name="context")
def bench_fan(context: df.DurableOrchestrationContext) -> Gen:
    n = int(context.get_input())  # started with the count as a JSON string
    results = yield context.task_all([context.call_activity("bench_noop", i) for i in range(n)])
    return sum(results)


@app.orchestration_trigger(context_name="context")
def bench_events(context: df.DurableOrchestrationContext) -> Gen:
    n = int(context.get_input())  # started with the count as a JSON string
    total = 0
    for _ in range(n):
        value = yield context.wait_for_external_event("tick")
        total += int(value)
    return total


@app.orchestration_trigger(context_name="context")
def bench_small(context: df.DurableOrchestrationContext) -> Gen:
    a = yield context.call_activity("bench_noop", 1)
    b = yield context.call_activity("bench_noop", 2)
    c = yield context.call_activity("bench_noop", 3)
    return a + b + c


@app.activity_trigger(input_name="value")
def bench_noop(value: int) -> int:
    return value
