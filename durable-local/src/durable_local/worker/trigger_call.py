"""Invoke a non-HTTP trigger's user function (timer) as the Python worker does: the trigger's
value under its argument name, the durable client binding JSON under its binding name and an
``azure.functions.Context`` when the function has a ``context`` parameter. Async functions are
awaited; sync ones run in a worker thread."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

from azure.functions.timer import TimerRequest

from durable_local.functions.registry import TimerFunction
from durable_local.worker.context import InvocationContext


class TriggerFunctionError(Exception):
    """The user function raised; the message names it and the exception."""


async def invoke_timer(
    function: TimerFunction,
    *,
    past_due: bool,
    schedule_status: dict[str, Any] | None,
    client_binding: str | None,
    function_directory: str,
    invocation_id: str | None = None,
) -> None:
    """Call a timer function with a ``TimerRequest`` (the worker's TimerRequestConverter
    shape: IsPastDue, ScheduleStatus, Schedule)."""
    kwargs: dict[str, Any] = {
        function.arg_name: TimerRequest(
            past_due=past_due,
            schedule_status=schedule_status or {},
            schedule={"AdjustForDST": True},
        )
    }
    if function.client_binding is not None:
        if client_binding is None:
            raise TriggerFunctionError(
                f"Function '{function.function_name}' needs a durable client binding, and the "
                "host is not serving HTTP yet."
            )
        kwargs[function.client_binding] = client_binding
    if function.wants_context:
        kwargs["context"] = InvocationContext(
            function.function_name, function_directory, invocation_id
        )
    try:
        if function.is_async:
            await function.fn(**kwargs)
        else:
            result = await asyncio.to_thread(function.fn, **kwargs)
            if inspect.isawaitable(result):
                await result
    except Exception as exc:
        raise TriggerFunctionError(
            f"Function '{function.function_name}' failed: {type(exc).__name__}: {exc}"
        ) from exc
