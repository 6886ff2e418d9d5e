"""Invoke HTTP-triggered user functions as the Python worker does (spec §5.1, §8.2).

The caller hands in a transport-neutral request; the function gets an
``azure.functions.HttpRequest`` under its trigger name, the durable client binding JSON string
under its ``durable_client_input`` name and an ``azure.functions.Context`` when it has a
``context`` parameter. Async functions are awaited; sync ones run in a worker thread. The
return value is converted back as the worker's ``HttpResponseConverter`` does.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import azure.functions as func

from durable_local.functions.registry import HttpFunction
from durable_local.worker.context import InvocationContext


class HttpFunctionError(Exception):
    """The user function raised, or returned something that is not an HTTP response."""


@dataclass(frozen=True)
class HttpRequestData:
    """A request for an HTTP function, independent of the server that received it."""

    method: str
    url: str
    headers: Mapping[str, str]
    params: Mapping[str, str]
    route_params: Mapping[str, str]
    body: bytes


@dataclass(frozen=True)
class HttpResult:
    """An HTTP function's response: status, headers, body."""

    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""


async def invoke_http(
    function: HttpFunction,
    request: HttpRequestData,
    *,
    client_binding: str | None,
    function_directory: str,
    invocation_id: str | None = None,
) -> HttpResult:
    """Call ``function`` with ``request``; raise ``HttpFunctionError`` when the user code fails."""
    kwargs: dict[str, Any] = {
        function.trigger_name: func.HttpRequest(
            method=request.method,
            url=request.url,
            headers=dict(request.headers),
            params=dict(request.params),
            route_params=dict(request.route_params),
            body=request.body,
        )
    }
    if function.client_binding is not None:
        if client_binding is None:
            raise HttpFunctionError(
                f"Function '{function.function_name}' needs a durable client binding."
            )
        kwargs[function.client_binding] = client_binding
    if function.wants_context:
        lowered = {name.lower(): value for name, value in request.headers.items()}
        kwargs["context"] = InvocationContext(
            function.function_name,
            function_directory,
            invocation_id,
            trace_parent=lowered.get("traceparent", ""),
            trace_state=lowered.get("tracestate", ""),
        )
    try:
        if function.is_async:
            result = await function.fn(**kwargs)
        else:
            result = await asyncio.to_thread(function.fn, **kwargs)
            if inspect.isawaitable(result):
                result = await result
    except Exception as exc:
        raise HttpFunctionError(
            f"Function '{function.function_name}' failed: {type(exc).__name__}: {exc}"
        ) from exc
    return to_http_result(function.function_name, result)


def to_http_result(function_name: str, result: Any) -> HttpResult:
    """Convert a user function's return value (AF ``HttpResponseConverter.encode``)."""
    if result is None:
        return HttpResult(status=204)
    if isinstance(result, str):
        return HttpResult(
            status=200,
            headers=[("Content-Type", "text/plain; charset=utf-8")],
            body=result.encode("utf-8"),
        )
    if isinstance(result, func.HttpResponse):
        headers: list[tuple[str, str]] = [(str(k), str(v)) for k, v in result.headers.items()]
        if not any(name.lower() == "content-type" for name, _ in headers):
            mimetype = result.mimetype
            content_type = (
                f"{mimetype}; charset={result.charset}"
                if mimetype.startswith("text/")
                else mimetype
            )
            headers.append(("Content-Type", content_type))
        return HttpResult(
            status=int(result.status_code), headers=headers, body=result.get_body() or b""
        )
    raise HttpFunctionError(
        f"Function '{function_name}' returned {type(result).__name__}; an HTTP function must "
        "return azure.functions.HttpResponse or str."
    )
