"""Orchestrators whose histories are recorded as golden files
(tests/durable_local/engine/orchestration/golden/, by test_golden.py with UPDATE_GOLDEN=1)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import azure.durable_functions as df

app = df.DFApp()
attempts: dict[str, int] = {}


@app.orchestration_trigger(context_name="context")
def chaining(context: df.DurableOrchestrationContext) -> Any:
    a = yield context.call_activity("greet", "Tokyo")
    b = yield context.call_activity("greet", "Seattle")
    c = yield context.call_activity("greet", "London")
    return [a, b, c]


@app.orchestration_trigger(context_name="context")
def fan_out_fan_in(context: df.DurableOrchestrationContext) -> Any:
    results = yield context.task_all([context.call_activity("square", i) for i in range(10)])
    return sum(results)


@app.orchestration_trigger(context_name="context")
def retry_success(context: df.DurableOrchestrationContext) -> Any:
    options = df.RetryOptions(first_retry_interval_in_milliseconds=1000, max_number_of_attempts=3)
    return (yield context.call_activity_with_retry("flaky", options, "retry_success"))


@app.orchestration_trigger(context_name="context")
def retry_exhausted(context: df.DurableOrchestrationContext) -> Any:
    options = df.RetryOptions(first_retry_interval_in_milliseconds=1000, max_number_of_attempts=2)
    return (yield context.call_activity_with_retry("always_fails", options, "x"))


@app.orchestration_trigger(context_name="context")
def long_timer(context: df.DurableOrchestrationContext) -> Any:
    fire_at = context.current_utc_datetime + timedelta(days=10)
    yield context.create_timer(fire_at)
    return context.current_utc_datetime.isoformat()


@app.orchestration_trigger(context_name="context")
def continue_as_new(context: df.DurableOrchestrationContext) -> Any:
    count = context.get_input() or 0
    yield context.call_activity("greet", str(count))
    if count < 2:
        context.continue_as_new(count + 1)
        return None
    return count


@app.orchestration_trigger(context_name="context")
def sub_orchestration_failure(context: df.DurableOrchestrationContext) -> Any:
    try:
        yield context.call_sub_orchestrator("failing_child", "payload")
    except Exception as exc:
        return f"child failed: {str(exc).splitlines()[0]}"
    return "child succeeded"


@app.orchestration_trigger(context_name="context")
def failing_child(context: df.DurableOrchestrationContext) -> Any:
    yield context.call_activity("greet", context.get_input())
    raise ValueError("child is broken")


@app.orchestration_trigger(context_name="context")
def suspend_resume(context: df.DurableOrchestrationContext) -> Any:
    approval = yield context.wait_for_external_event("Approval")
    done = yield context.call_activity("greet", "after approval")
    return {"approval": approval, "done": done}


@app.orchestration_trigger(context_name="context")
def chaining_changed(context: df.DurableOrchestrationContext) -> Any:
    """``chaining`` after an incompatible code change: its second call is renamed."""
    a = yield context.call_activity("greet", "Tokyo")
    b = yield context.call_activity("square", 2)
    return [a, b]


@app.activity_trigger(input_name="name")
def greet(name: str) -> str:
    return f"Hello {name}!"


@app.activity_trigger(input_name="value")
async def square(value: int) -> int:
    return value * value


@app.activity_trigger(input_name="key")
def flaky(key: str) -> str:
    attempts[key] = attempts.get(key, 0) + 1
    if attempts[key] < 3:
        raise ValueError(f"transient failure {attempts[key]}")
    return f"succeeded after {attempts[key]} attempts"


@app.activity_trigger(input_name="key")
def always_fails(key: str) -> str:
    raise RuntimeError("permanent failure")
