"""Where orchestrator and activity user code is called (HTTP functions: ``http_call``).

Orchestrators are called through the SDK handle with the trigger payload of spec §1 and return
the SDK's JSON text, or an error text (the SDK embeds its state in the exception, spec §3.4).
Activities are called as the Python worker calls them (spec §4.1, §8.2): the input decoded by
the worker's ``ActivityTriggerConverter``, the result encoded by it, failures turned into the
Reason/Details the extension records.
"""

from __future__ import annotations

import json
import time
import traceback
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, NamedTuple

import azure.functions as func
from azure.functions import meta
from azure.functions.durable_functions import ActivityTriggerConverter

from durable_local.functions.registry import ActivityFunction, OrchestratorFunction
from durable_local.model import compact_text
from durable_local.worker.context import InvocationContext


@dataclass(frozen=True)
class OrchestratorResult:
    """The handle's return text, or the error text of the exception it raised."""

    returned: str | None
    error: str | None
    stack: str | None = None
    seconds: float = 0.0  # wall time inside the handle, measured in the calling thread
    cpu_seconds: float = 0.0  # that thread's CPU time inside the handle (no GIL waits)


class ActivityFailure(Exception):
    """An activity raised (or its result could not be encoded): the TaskFailed to record."""

    def __init__(self, reason: str, details: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.details = details


def invoke_orchestrator(function: OrchestratorFunction, context_json: str) -> OrchestratorResult:
    """Run one episode of the SDK replay (synchronous: call it from a worker thread)."""
    begin, begin_cpu = time.perf_counter(), time.thread_time()
    try:
        returned = function.handle(func.OrchestrationContext(context_json))
    except Exception as exc:  # the SDK reports orchestrator failures by raising
        seconds, cpu = time.perf_counter() - begin, time.thread_time() - begin_cpu
        error = str(exc) or type(exc).__name__
        return OrchestratorResult(None, error, traceback.format_exc(), seconds, cpu)
    seconds, cpu = time.perf_counter() - begin, time.thread_time() - begin_cpu
    if not isinstance(returned, str):
        returned = json.dumps(returned)
    return OrchestratorResult(returned, None, seconds=seconds, cpu_seconds=cpu)


class ActivityCall(NamedTuple):
    """One activity invocation handed to a worker; ``key`` identifies its result.

    Named tuples: thousands cross the worker's pipe per second, and tuples pickle cheaply.
    """

    key: int
    name: str
    input_json: str | None


class ActivityOutcome(NamedTuple):
    """What an activity invocation gave: its result JSON, or the failure's Reason/Details."""

    key: int
    result_json: str | None = None
    failure: tuple[str, str] | None = None


def run_activity(
    function: ActivityFunction,
    call: ActivityCall,
    *,
    app_dir: str = ".",
    run_async: Callable[[Coroutine[Any, Any, Any]], Any] | None = None,
) -> ActivityOutcome:
    """Run one activity in the calling (worker) thread, as the Python worker runs it.

    The input is decoded and the result encoded by the worker's ``ActivityTriggerConverter``
    (spec §4.1, §8.2); an async function's coroutine is handed to ``run_async``, which runs it
    on the worker's event loop and returns its result. A failure becomes the extension's
    Reason/Details shape.
    """
    try:
        text = call.input_json if call.input_json is not None else "null"
        value = ActivityTriggerConverter.decode(
            meta.Datum(type="string", value=text), trigger_metadata=None
        )
        kwargs: dict[str, Any] = {function.input_name: value}
        if function.wants_context:
            kwargs["context"] = InvocationContext(function.function_name, app_dir)
        if function.is_async:
            if run_async is None:
                raise RuntimeError("no event loop to run an async activity on")
            result = run_async(function.fn(**kwargs))
        else:
            result = function.fn(**kwargs)
        encoded = ActivityTriggerConverter.encode(result, expected_type=None).value
    except Exception as exc:
        failure = activity_failure(function.name, exc)
        return ActivityOutcome(call.key, failure=(failure.reason, failure.details))
    if encoded is None:
        return ActivityOutcome(call.key)
    return ActivityOutcome(call.key, result_json=compact_text(str(encoded)))


def activity_failure(name: str, exc: BaseException) -> ActivityFailure:
    """TaskFailed Reason/Details as the extension derives them from the worker's RpcException."""
    friendly = f"{type(exc).__name__}: {exc}"
    stack = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    details = json.dumps(
        {
            "ClassName": "Microsoft.Azure.WebJobs.Script.Workers.Rpc.RpcException",
            "Message": f"Result: Failure\nException: {friendly}\nStack: {stack}",
            "RemoteStackTrace": stack,
            "RemoteTypeName": type(exc).__name__,
        }
    )
    # The friendly message keeps the leading space of "\nException: ..." (spec §4.1, §9.16).
    return ActivityFailure(f"Activity function '{name}' failed:  {friendly}", details)
