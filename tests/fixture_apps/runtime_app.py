"""A test-only function app: small real SDK orchestrators and activities for the runtime tests.

Module-level state (counters, gates, recordings) is test instrumentation, reset by ``reset()``.
``registry()`` indexes the app once (``get_functions()`` may only run once per app object).
"""

from __future__ import annotations

import asyncio
import threading
from datetime import timedelta
from typing import Any

import azure.durable_functions as df

from durable_local.functions.registry import FunctionRegistry

app = df.DFApp()

# -- instrumentation -----------------------------------------------------------------------------
CALLS: dict[str, int] = {}  # activity key -> executions
ACTIVITY_GATES: dict[str, threading.Event] = {}  # activity input -> gate it waits on
ORCHESTRATOR_GATES: dict[str, threading.Event] = {}  # instance id -> gate for its first episode
ORCHESTRATOR_ENTERED: dict[str, threading.Event] = {}
SEEN_HISTORIES: dict[str, list[list[tuple[int, bool]]]] = {}  # instance -> per call (type, played)
ACTIVITY_NAME = {"shifty": "hello"}  # what `shifty` calls: changed by a test (non-determinism)

_registry: FunctionRegistry | None = None


def registry() -> FunctionRegistry:
    global _registry
    if _registry is None:
        _registry = FunctionRegistry.from_app(app)
    return _registry


def reset() -> None:
    CALLS.clear()
    for gate in ACTIVITY_GATES.values():
        gate.set()
    ACTIVITY_GATES.clear()
    for gate in ORCHESTRATOR_GATES.values():
        gate.set()
    ORCHESTRATOR_GATES.clear()
    ORCHESTRATOR_ENTERED.clear()
    SEEN_HISTORIES.clear()
    ACTIVITY_NAME["shifty"] = "hello"


def _count(key: str) -> int:
    CALLS[key] = CALLS.get(key, 0) + 1
    return CALLS[key]


# -- activities ----------------------------------------------------------------------------------
@app.activity_trigger(input_name="name")
def hello(name: str) -> str:
    _count("hello")
    return f"Hello {name}!"


@app.activity_trigger(input_name="name")
async def hello_async(name: str) -> str:
    _count("hello_async")
    await asyncio.sleep(0)
    return f"Hi {name}!"


@app.activity_trigger(input_name="value")
def echo(value: Any) -> Any:
    return value


@app.activity_trigger(input_name="value")
def fail_always(value: Any) -> Any:
    _count("fail_always")
    raise ValueError("boom")


@app.activity_trigger(input_name="key")
async def flaky(key: str) -> dict[str, Any]:
    """Fails until it has been called ``int(key.split(':')[1])`` times, for key ``name:n``."""
    attempt = _count(f"flaky:{key}")
    needed = int(key.split(":")[1])
    if attempt < needed:
        raise ValueError(f"attempt {attempt} failed")
    return {"key": key, "attempts": attempt}


@app.activity_trigger(input_name="key")
def blocker(key: str) -> str:
    """Waits for the test to open its gate (created on demand)."""
    gate = ACTIVITY_GATES.setdefault(key, threading.Event())
    if not gate.wait(timeout=20):
        raise TimeoutError(f"gate {key} never opened")
    return f"unblocked {key}"


# -- orchestrators -------------------------------------------------------------------------------
@app.orchestration_trigger(context_name="context")
def chain(context: df.DurableOrchestrationContext) -> Any:
    name = context.get_input()
    a = yield context.call_activity("hello", name)
    b = yield context.call_activity("hello_async", a)
    return [a, b]


@app.orchestration_trigger(context_name="context")
def replay_probe(context: df.DurableOrchestrationContext) -> Any:
    """Records the (EventType, IsPlayed) pairs it is given and is_replaying after each step."""
    SEEN_HISTORIES.setdefault(context.instance_id, []).append(
        [(int(e.event_type), bool(e.is_played)) for e in context.histories]
    )
    seen = [context.is_replaying]
    yield context.call_activity("hello", "a")
    seen.append(context.is_replaying)
    yield context.call_activity("hello", "b")
    seen.append(context.is_replaying)
    return seen


@app.orchestration_trigger(context_name="context")
def gated_events(context: df.DurableOrchestrationContext) -> Any:
    """Its first episode blocks until the test opens its gate; then it waits for three events."""
    entered = ORCHESTRATOR_ENTERED.get(context.instance_id)
    gate = ORCHESTRATOR_GATES.pop(context.instance_id, None)
    if gate is not None:
        if entered is not None:
            entered.set()
        gate.wait(timeout=20)
    a = yield context.wait_for_external_event("A")
    b = yield context.wait_for_external_event("B")
    c = yield context.wait_for_external_event("C")
    return [a, b, c]


@app.orchestration_trigger(context_name="context")
def mixed(context: df.DurableOrchestrationContext) -> Any:
    """activity, timer, fan-out of 3, sub-orchestration: sequence ids 0..6."""
    first = yield context.call_activity("hello", "x")
    yield context.create_timer(context.current_utc_datetime + timedelta(seconds=10))
    fan = yield context.task_all([context.call_activity("echo", i) for i in range(3)])
    child = yield context.call_sub_orchestrator("chain", "kid")
    return {"first": first, "fan": fan, "child": child}


@app.orchestration_trigger(context_name="context")
def calls_unknown_activity(context: df.DurableOrchestrationContext) -> Any:
    yield context.call_activity("no_such_activity", 1)
    return "unreachable"


@app.orchestration_trigger(context_name="context")
def calls_unknown_orchestrator(context: df.DurableOrchestrationContext) -> Any:
    yield context.call_sub_orchestrator("no_such_orchestrator", 1)
    return "unreachable"


@app.orchestration_trigger(context_name="context")
def catches_failure(context: df.DurableOrchestrationContext) -> Any:
    try:
        yield context.call_activity("fail_always", "x")
    except Exception as exc:
        return str(exc)
    return "no failure"


@app.orchestration_trigger(context_name="context")
def parent(context: df.DurableOrchestrationContext) -> Any:
    """input: {"mode": "explicit"|"default"|"failing"|"flaky"|"self", "child_id": ...}"""
    spec = context.get_input()
    mode = spec["mode"]
    if mode == "flaky":  # an uncaught child failure fails the parent
        return (yield context.call_sub_orchestrator("flaky_child", spec["key"], spec["child_id"]))
    if mode == "self":
        return (yield context.call_sub_orchestrator("chain", "me", context.instance_id))
    if mode == "failing":
        try:
            yield context.call_sub_orchestrator("raiser", "child-input", spec.get("child_id"))
        except Exception as exc:
            return {"caught": str(exc)}
        return "no failure"
    return (yield context.call_sub_orchestrator("chain", "kid", spec.get("child_id")))


@app.orchestration_trigger(context_name="context")
def raiser(context: df.DurableOrchestrationContext) -> Any:
    """Fails after one activity, with an exception the SDK wraps with $OutOfProcData$."""
    yield context.call_activity("hello", "before")
    raise RuntimeError("nope")


@app.orchestration_trigger(context_name="context")
def sleeper(context: df.DurableOrchestrationContext) -> Any:
    """input: seconds to sleep on a durable timer."""
    seconds = context.get_input()
    fire_at = context.current_utc_datetime + timedelta(seconds=seconds)
    yield context.create_timer(fire_at)
    return {"woke": context.current_utc_datetime.isoformat()}


@app.orchestration_trigger(context_name="context")
def event_or_timeout(context: df.DurableOrchestrationContext) -> Any:
    """task_any of an event and a 1 h timer; cancels the timer when the event wins."""
    event = context.wait_for_external_event("Go")
    timer = context.create_timer(context.current_utc_datetime + timedelta(hours=1))
    winner = yield context.task_any([event, timer])
    if winner == event:
        timer.cancel()
        return {"event": event.result}
    return "timeout"


@app.orchestration_trigger(context_name="context")
def any_leaves_timer(context: df.DurableOrchestrationContext) -> Any:
    """task_any of an activity and a 1 h timer that is NOT cancelled (§3.5 completion rule)."""
    work = context.call_activity("hello", "fast")
    timer = context.create_timer(context.current_utc_datetime + timedelta(hours=1))
    winner = yield context.task_any([work, timer])
    return "activity" if winner == work else "timer"


@app.orchestration_trigger(context_name="context")
def fan_out(context: df.DurableOrchestrationContext) -> Any:
    n = context.get_input()
    results = yield context.task_all([context.call_activity("echo", i) for i in range(n)])
    first = yield context.task_any(
        [context.call_activity("hello", "p"), context.call_activity("hello_async", "q")]
    )
    return {"sum": sum(results), "any": first.result}


@app.orchestration_trigger(context_name="context")
def retry_activity(context: df.DurableOrchestrationContext) -> Any:
    """input: {"key": flaky key or None for fail_always, "attempts": max attempts}"""
    spec = context.get_input()
    options = df.RetryOptions(1000, spec["attempts"])
    if spec.get("key"):
        return (yield context.call_activity_with_retry("flaky", options, spec["key"]))
    return (yield context.call_activity_with_retry("fail_always", options, "x"))


@app.orchestration_trigger(context_name="context")
def flaky_child(context: df.DurableOrchestrationContext) -> Any:
    """Fails (uncaught) while its flaky activity fails: no retry inside."""
    return (yield context.call_activity("flaky", context.get_input()))


@app.orchestration_trigger(context_name="context")
def retry_child(context: df.DurableOrchestrationContext) -> Any:
    """input: {"key": flaky key, "attempts": n, "child_id": id or None}"""
    spec = context.get_input()
    options = df.RetryOptions(500, spec["attempts"])
    return (
        yield context.call_sub_orchestrator_with_retry(
            "flaky_child", options, spec["key"], spec.get("child_id")
        )
    )


@app.orchestration_trigger(context_name="context")
def waiter(context: df.DurableOrchestrationContext) -> Any:
    """Sets a custom status, then waits for event 'E' and returns its value."""
    context.set_custom_status({"stage": "waiting"})
    value = yield context.wait_for_external_event("E")
    context.set_custom_status({"stage": "done"})
    return value


@app.orchestration_trigger(context_name="context")
def suspendable(context: df.DurableOrchestrationContext) -> Any:
    """blocker activity, then event 'E', then another activity."""
    first = yield context.call_activity("blocker", context.get_input())
    event = yield context.wait_for_external_event("E")
    last = yield context.call_activity("hello", "after")
    return [first, event, last]


@app.orchestration_trigger(context_name="context")
def counter(context: df.DurableOrchestrationContext) -> Any:
    """continue_as_new until the input reaches 3; each execution calls one activity."""
    n = int(context.get_input())
    yield context.call_activity("echo", n)
    if n < 3:
        context.continue_as_new(n + 1)
        return None
    return {"final": n, "instance": context.instance_id}


@app.orchestration_trigger(context_name="context")
def rewindable(context: df.DurableOrchestrationContext) -> Any:
    """flaky must succeed; with key 'r:2' it fails the first time, so the instance fails."""
    ok = yield context.call_activity("hello", "one")
    flaky_result = yield context.call_activity("flaky", context.get_input())
    return [ok, flaky_result]


@app.orchestration_trigger(context_name="context")
def shifty(context: df.DurableOrchestrationContext) -> Any:
    """Calls the activity named in ACTIVITY_NAME: changing it mid-flight is non-deterministic."""
    first = yield context.call_activity(ACTIVITY_NAME["shifty"], "a")
    value = yield context.wait_for_external_event("E")
    return [first, value]


@app.orchestration_trigger(context_name="context")
def plain(context: df.DurableOrchestrationContext) -> Any:
    """Not a generator: returns at once."""
    return {"plain": context.get_input()}
