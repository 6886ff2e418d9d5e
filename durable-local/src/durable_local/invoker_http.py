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
import json
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import azure.functions as func
from azure.functions._abc import RetryContext, TraceContext

from durable_local.registry import HttpFunction

DEFAULT_CONNECTION = "Storage"
WEBHOOK_PATH = "/runtime/webhooks/durabletask"
RPC_PATH = "/durabletask/"


class HttpFunctionError(Exception):
    """The user function raised, or returned something that is not an HTTP response."""


@dataclass(frozen=True)
class HttpRequestData:
    method: str
    url: str
    headers: Mapping[str, str]
    params: Mapping[str, str]
    route_params: Mapping[str, str]
    body: bytes


@dataclass(frozen=True)
class HttpResult:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""


# --------------------------------------------------------------------------------------------
# The durable client binding (EXT BindingHelper.DurableOrchestrationClientToString)
# --------------------------------------------------------------------------------------------


def management_query(hub_name: str, connection: str, system_key: str | None) -> str:
    query = f"taskHub={hub_name}&connection={connection}"
    return f"{query}&code={system_key}" if system_key else query


def management_urls(
    origin: str,
    instance_id: str,
    *,
    hub_name: str,
    connection: str = DEFAULT_CONNECTION,
    system_key: str | None = None,
    include_rewind: bool = True,
) -> dict[str, str]:
    """The check-status payload for ``instance_id``: ``id`` plus the management URLs.

    ``origin`` is ``scheme://host[:port]`` without a trailing slash. The extension's own
    check-status response (HTTP API start) leaves out ``rewindPostUri`` (spec §5.4).
    """
    # EXT GetClientResponseLinks: WebUtility.UrlEncode(instanceId), so ids with spaces, '%',
    # ':' or non-ASCII characters still give URLs a client can follow.
    base = f"{origin}{WEBHOOK_PATH}/instances/{quote(instance_id, safe='')}"
    query = management_query(hub_name, connection, system_key)
    urls = {
        "id": instance_id,
        "statusQueryGetUri": f"{base}?{query}",
        "sendEventPostUri": f"{base}/raiseEvent/{{eventName}}?{query}",
        "terminatePostUri": f"{base}/terminate?reason={{text}}&{query}",
        "rewindPostUri": f"{base}/rewind?reason={{text}}&{query}",
        "purgeHistoryDeleteUri": f"{base}?{query}",
        "restartPostUri": f"{base}/restart?{query}",
        "suspendPostUri": f"{base}/suspend?reason={{text}}&{query}",
        "resumePostUri": f"{base}/resume?reason={{text}}&{query}",
    }
    if not include_rewind:
        del urls["rewindPostUri"]
    return urls


def durable_client_binding(
    *,
    origin: str,
    rpc_base_url: str,
    hub_name: str,
    connection: str = DEFAULT_CONNECTION,
    system_key: str | None = None,
) -> str:
    """The JSON string the host passes to a ``durableClient`` parameter (spec §5.1).

    ``origin`` is where the public webhook API is reachable (``http://host:port``);
    ``rpc_base_url`` is the base the SDK client calls and must end with ``/``.
    """
    if not rpc_base_url.endswith("/"):
        raise ValueError("rpcBaseUrl must end with '/' (the SDK concatenates paths to it)")
    base_url = f"{origin}{WEBHOOK_PATH}"
    required = f"code={system_key}" if system_key else ""
    creation = f"{base_url}/orchestrators/{{functionName}}[/{{instanceId}}]"
    binding = {
        "taskHubName": hub_name,
        "creationUrls": {
            "createNewInstancePostUri": f"{creation}?{required}" if required else creation,
            "createAndWaitOnNewInstancePostUri": (
                f"{creation}?timeout={{timeoutInSeconds}}&pollingInterval={{intervalInSeconds}}"
                + (f"&{required}" if required else "")
            ),
        },
        "managementUrls": management_urls(
            origin, "INSTANCEID", hub_name=hub_name, connection=connection, system_key=system_key
        ),
        "baseUrl": base_url,
        "requiredQueryStringParameters": required,
        "rpcBaseUrl": rpc_base_url,
    }
    return json.dumps(binding)


# --------------------------------------------------------------------------------------------
# Invocation context
# --------------------------------------------------------------------------------------------


class _TraceContext(TraceContext):
    def __init__(self, trace_parent: str, trace_state: str) -> None:
        self._trace_parent = trace_parent
        self._trace_state = trace_state

    @property
    def trace_parent(self) -> str:
        return self._trace_parent

    @property
    def trace_state(self) -> str:
        return self._trace_state

    @property
    def attributes(self) -> dict[str, str]:
        return {}


class _RetryContext(RetryContext):
    @property
    def retry_count(self) -> int:
        return 0

    @property
    def max_retry_count(self) -> int:
        return 0

    @property
    def exception(self) -> Any:
        return None


class InvocationContext(func.Context):
    """``azure.functions.Context`` for one invocation (the worker passes its own equivalent)."""

    _tls = threading.local()

    def __init__(
        self,
        function_name: str,
        function_directory: str,
        invocation_id: str | None = None,
        trace_parent: str = "",
        trace_state: str = "",
    ) -> None:
        self._function_name = function_name
        self._function_directory = function_directory
        self._invocation_id = invocation_id or str(uuid.uuid4())
        self._trace_context = _TraceContext(trace_parent, trace_state)
        self._retry_context = _RetryContext()

    @property
    def invocation_id(self) -> str:
        return self._invocation_id

    @property
    def thread_local_storage(self) -> Any:
        return self._tls

    @property
    def function_name(self) -> str:
        return self._function_name

    @property
    def function_directory(self) -> str:
        return self._function_directory

    @property
    def trace_context(self) -> _TraceContext:
        return self._trace_context

    @property
    def retry_context(self) -> _RetryContext:
        return self._retry_context


# --------------------------------------------------------------------------------------------
# Invocation
# --------------------------------------------------------------------------------------------


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
