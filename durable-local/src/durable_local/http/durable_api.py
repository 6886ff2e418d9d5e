"""The Durable HTTP API (spec §6), served both under ``/runtime/webhooks/durabletask/`` (public,
system key) and under ``/durabletask/`` (the ``rpcBaseUrl`` the SDK client calls, local only).

The extension uses one handler for both; so do we. Query parameter names are matched
case-insensitively and booleans parsed like .NET ``bool.TryParse`` (falling back to the default),
as the extension does.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiohttp import web

from durable_local.http.auth import AuthLevel
from durable_local.http.config import CONFIG, RUNTIME, Route, RouteHandler, origin_of
from durable_local.http.errors import NotSupported, json_response
from durable_local.http.routing import RouteTemplate
from durable_local.http.urls import management_urls
from durable_local.model import (
    ACTIVE_STATUSES,
    TERMINAL_STATUSES,
    QueryFilter,
    RuntimeStatus,
    parse_time,
)
from durable_local.model.errors import BadRequest, InstanceGone, PayloadTooLarge
from durable_local.runtime.api import RuntimeAPI, StatusObject

CONTINUATION_HEADER = "x-ms-continuation-token"
_DEFAULT_POLLING_INTERVAL = 1.0
MIN_POLLING_INTERVAL = 0.05  # a smaller one would only keep a CPU busy
MAX_TOP = 2**31 - 1  # the extension's int


# --------------------------------------------------------------------------------------------
# Request helpers
# --------------------------------------------------------------------------------------------


def query_of(request: web.Request) -> dict[str, str]:
    """Query parameters by lower-cased name (first value wins, as NameValueCollection[...])."""
    result: dict[str, str] = {}
    for name, value in request.query.items():
        result.setdefault(name.lower(), value)
    return result


def parse_bool(query: Mapping[str, str], name: str, default: bool) -> bool:
    """.NET ``bool.TryParse``: ``true``/``false`` in any case, surrounding blanks allowed."""
    text = query.get(name.lower())
    if text is None:
        return default
    value = text.strip().lower()
    if value == "true":
        return True
    if value == "false":
        return False
    return default


def _time_param(query: Mapping[str, str], name: str) -> Any:
    text = query.get(name.lower())
    if text is None or text == "":
        return None
    try:
        return parse_time(text)
    except ValueError:
        raise BadRequest(
            f"The '{name}' parameter is not a valid date and time: '{text}'."
        ) from None


def _status_param(query: Mapping[str, str]) -> frozenset[RuntimeStatus]:
    text = query.get("runtimestatus")
    if not text:
        return frozenset()
    by_name = {s.value.lower(): s for s in RuntimeStatus}
    statuses: set[RuntimeStatus] = set()
    for part in text.split(","):
        name = part.strip()
        if not name:
            continue
        status = by_name.get(name.lower())
        if status is None:
            valid = ", ".join(s.value for s in RuntimeStatus)
            raise BadRequest(f"Unknown runtimeStatus '{name}'; expected one of: {valid}.")
        statuses.add(status)
    return frozenset(statuses)


def _filter(query: Mapping[str, str]) -> QueryFilter:
    return QueryFilter(
        created_time_from=_time_param(query, "createdTimeFrom"),
        created_time_to=_time_param(query, "createdTimeTo"),
        runtime_status=_status_param(query),
        instance_id_prefix=query.get("instanceidprefix") or None,
    )


def _seconds(query: Mapping[str, str], name: str) -> float | None:
    text = query.get(name.lower())
    if text is None or text.strip() == "":
        return None
    try:
        value = float(text)
    except ValueError:
        raise BadRequest(f"The '{name}' parameter must be a number of seconds.") from None
    if value < 0 or value != value or value == float("inf"):
        raise BadRequest(f"The '{name}' parameter must be a non-negative number of seconds.")
    return value


async def read_body(request: web.Request) -> bytes:
    """The request body, enforcing the configured size limit (413)."""
    limit = request.app[CONFIG].max_body_size
    length = request.content_length
    if length is not None and length > limit:
        raise PayloadTooLarge(f"The request body is {length} bytes; the limit is {limit} bytes.")
    try:
        body = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise PayloadTooLarge(f"The request body exceeds the limit of {limit} bytes.") from None
    if len(body) > limit:
        raise PayloadTooLarge(f"The request body exceeds the limit of {limit} bytes.")
    return body


async def json_body(request: web.Request) -> tuple[bool, Any]:
    """``(present, value)``: an empty body is absent; anything else must be JSON (400)."""
    body = await read_body(request)
    if not body.strip():
        return False, None
    try:
        return True, json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequest(f"The request body is not valid JSON: {exc}") from None
    except RecursionError:
        raise BadRequest("The request body is JSON nested too deeply.") from None


def _check_task_hub(request: web.Request, query: Mapping[str, str]) -> None:
    hub = query.get("taskhub")
    served = request.app[RUNTIME].hub_name
    if hub and hub.lower() != served.lower():
        raise BadRequest(
            f"Task hub '{hub}' is not served here: durable-local serves the task hub '{served}'."
        )


def _runtime(request: web.Request) -> RuntimeAPI:
    return request.app[RUNTIME]


def check_status_body(request: web.Request, instance_id: str) -> dict[str, str]:
    config = request.app[CONFIG]
    return management_urls(
        origin_of(request),
        instance_id,
        hub_name=_runtime(request).hub_name,
        connection=config.connection_name,
        system_key=config.keys.system_key,
        include_rewind=False,
    )


def check_status_response(request: web.Request, instance_id: str) -> web.Response:
    """202 with the management URLs, ``Location`` and ``Retry-After: 10`` (EXT)."""
    body = check_status_body(request, instance_id)
    return json_response(
        body,
        status=202,
        headers={"Location": body["statusQueryGetUri"], "Retry-After": "10"},
    )


def _status_of(status: StatusObject) -> RuntimeStatus:
    return RuntimeStatus(status["runtimeStatus"])


async def _wait_or_check_status(
    request: web.Request, instance_id: str, timeout: float, interval: float | None
) -> web.Response:
    """EXT ``WaitForCompletionOrCreateCheckStatusResponseAsync`` (polling, wall-clock time)."""
    runtime = _runtime(request)
    query = query_of(request)
    fail_500 = parse_bool(query, "returnInternalServerErrorOnFailure", False)
    poll = max(interval, MIN_POLLING_INTERVAL) if interval else _DEFAULT_POLLING_INTERVAL
    deadline = time.monotonic() + timeout
    while True:
        status = await runtime.get_status(instance_id, show_input=False)
        state = _status_of(status)
        if state is RuntimeStatus.COMPLETED:
            return json_response(status.get("output"), status=200)
        if state in (RuntimeStatus.TERMINATED, RuntimeStatus.CANCELED):
            return json_response(status, status=200)
        if state is RuntimeStatus.FAILED:
            return json_response(status, status=500 if fail_500 else 200)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return check_status_response(request, instance_id)
        await asyncio.sleep(min(poll, remaining))


def _accepted() -> web.Response:
    return web.Response(status=202)


# --------------------------------------------------------------------------------------------
# Handlers (request, route values) -> response
# --------------------------------------------------------------------------------------------


async def start_orchestration(request: web.Request, values: dict[str, str]) -> web.Response:
    query = query_of(request)
    _check_task_hub(request, query)
    timeout = _seconds(query, "timeout")
    interval = _seconds(query, "pollingInterval")
    _, data = await json_body(request)
    # ?version= (the SDK client's start_new(version=...)); absent: host.json defaultVersion.
    instance_id = await _runtime(request).start_new(
        values["functionName"],
        data,
        values.get("instanceId") or None,
        version=query.get("version"),
    )
    if timeout is not None:
        return await _wait_or_check_status(request, instance_id, timeout, interval)
    return check_status_response(request, instance_id)


async def list_instances(request: web.Request, values: dict[str, str]) -> web.Response:
    query = query_of(request)
    _check_task_hub(request, query)
    page_size = 100
    if query.get("top"):
        try:
            page_size = int(query["top"])
        except ValueError:
            raise BadRequest("The 'top' parameter must be an integer.") from None
        if not 0 < page_size <= MAX_TOP:
            raise BadRequest(f"The 'top' parameter must be between 1 and {MAX_TOP}.")
    token = request.headers.get(CONTINUATION_HEADER) or None
    items, next_token = await _runtime(request).query(
        _filter(query),
        page_size=page_size,
        continuation=token,
        show_input=parse_bool(query, "showInput", True),
    )
    return json_response(items, headers={CONTINUATION_HEADER: next_token or ""})


async def purge_instances(request: web.Request, values: dict[str, str]) -> web.Response:
    query = query_of(request)
    _check_task_hub(request, query)
    if not query.get("createdtimefrom"):
        # EXT answers with a bare JSON string here, not an HttpError.
        return json_response("Please provide value for 'createdTimeFrom' parameter.", status=400)
    deleted = await _runtime(request).purge_by(_filter(query))
    if deleted == 0:
        return web.Response(status=404)
    return json_response({"instancesDeleted": deleted})


async def get_instance(request: web.Request, values: dict[str, str]) -> web.Response:
    query = query_of(request)
    _check_task_hub(request, query)
    status = await _runtime(request).get_status(
        values["instanceId"],
        show_history=parse_bool(query, "showHistory", False),
        show_history_output=parse_bool(query, "showHistoryOutput", False),
        show_input=parse_bool(query, "showInput", True),
    )
    state = _status_of(status)
    if state in ACTIVE_STATUSES:  # still in progress: 202 rather than 200
        return json_response(
            status, status=202, headers={"Location": str(request.url), "Retry-After": "5"}
        )
    if state is RuntimeStatus.FAILED and parse_bool(
        query, "returnInternalServerErrorOnFailure", False
    ):
        return json_response(status, status=500)
    return json_response(status, status=200)


async def purge_instance(request: web.Request, values: dict[str, str]) -> web.Response:
    _check_task_hub(request, query_of(request))
    deleted = await _runtime(request).purge(values["instanceId"])
    return json_response({"instancesDeleted": deleted})


ReasonedOperation = Callable[[RuntimeAPI, str, str | None], Awaitable[None]]


def _reasoned(operation: ReasonedOperation) -> RouteHandler:
    """A handler for ``instances/{id}/<operation>?reason=``: 202 with an empty body."""

    async def handle(request: web.Request, values: dict[str, str]) -> web.Response:
        query = query_of(request)
        _check_task_hub(request, query)
        await operation(_runtime(request), values["instanceId"], query.get("reason"))
        return _accepted()

    return handle


terminate = _reasoned(lambda runtime, instance_id, reason: runtime.terminate(instance_id, reason))
suspend = _reasoned(lambda runtime, instance_id, reason: runtime.suspend(instance_id, reason))
resume = _reasoned(lambda runtime, instance_id, reason: runtime.resume(instance_id, reason))
rewind = _reasoned(lambda runtime, instance_id, reason: runtime.rewind(instance_id, reason))


async def restart(request: web.Request, values: dict[str, str]) -> web.Response:
    query = query_of(request)
    _check_task_hub(request, query)
    timeout = _seconds(query, "timeout")
    interval = _seconds(query, "pollingInterval")
    new_id = await _runtime(request).restart(
        values["instanceId"], parse_bool(query, "restartWithNewInstanceId", True)
    )
    if timeout is not None:
        return await _wait_or_check_status(request, new_id, timeout, interval)
    return check_status_response(request, new_id)


async def raise_event(request: web.Request, values: dict[str, str]) -> web.Response:
    query = query_of(request)
    _check_task_hub(request, query)
    runtime = _runtime(request)
    instance_id = values["instanceId"]
    # EXT order: existence (404), terminal state (410), then the content type (400).
    status = await runtime.get_status(instance_id, show_input=False)
    state = _status_of(status)
    if state in TERMINAL_STATUSES:
        raise InstanceGone(instance_id, state.value)
    if request.content_type.lower() != "application/json":
        raise BadRequest("Only application/json request content is supported")
    _, data = await json_body(request)
    await runtime.raise_event(instance_id, values["eventName"], data)
    return _accepted()


async def entities(request: web.Request, values: dict[str, str]) -> web.Response:
    raise NotSupported(
        "Durable entities are not supported by durable-local "
        "(entity triggers are not indexed, and the entities API is not served)."
    )


def _route(methods: str | None, template: str, handler: RouteHandler) -> Route:
    return Route(
        methods=frozenset(methods.split(",")) if methods else None,
        template=RouteTemplate(template),
        handler=handler,
        auth=AuthLevel.SYSTEM,
        name=handler.__name__,
    )


def durable_routes() -> list[Route]:
    """Routes relative to the API base, in the extension's matching order."""
    return [
        _route("POST", "orchestrators/{functionName}/{instanceId?}", start_orchestration),
        _route("GET", "instances", list_instances),
        _route("DELETE", "instances", purge_instances),
        _route("GET", "instances/{instanceId}", get_instance),
        _route("DELETE", "instances/{instanceId}", purge_instance),
        _route("POST", "instances/{instanceId}/terminate", terminate),
        _route("POST", "instances/{instanceId}/suspend", suspend),
        _route("POST", "instances/{instanceId}/resume", resume),
        _route("POST", "instances/{instanceId}/rewind", rewind),
        _route("POST", "instances/{instanceId}/restart", restart),
        _route("POST", "instances/{instanceId}/raiseEvent/{eventName}", raise_event),
        _route(None, "entities/{entityName}/{entityKey?}", entities),
    ]
