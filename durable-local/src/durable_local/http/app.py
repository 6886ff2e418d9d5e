"""The aiohttp application factory: one dispatcher over the host's routing tables.

Areas, matched in this order on the (case-insensitive) path:

* ``/runtime/webhooks/durabletask/...``: the public Durable HTTP API (system key);
* ``/durabletask/...``: the same API as the SDK's ``rpcBaseUrl`` (requests from this machine
  only, no key, like the extension's loopback listener);
* ``/admin/host/status``: host status, ``/admin/functions/{name}``: run a timer function by
  hand (admin key);
* ``/{routePrefix}/...``: the app's HTTP functions (their own auth levels);
* ``/dashboard/...``: the dashboard (``http/dashboard``), after the app's functions, which win
  (when one of them takes that path the dashboard moves to ``/runtime/dashboard/``).

Routing is done here rather than by aiohttp's router because the host's rules differ: literal
segments are case-insensitive, templates carry inline constraints and precedence, and a wrong
method is a 404.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Any, Protocol, runtime_checkable

from aiohttp import web

import durable_local
from durable_local.functions.registry import FunctionRegistry
from durable_local.http.admin import admin_function_routes
from durable_local.http.auth import AuthLevel, presented_key
from durable_local.http.config import (
    CONFIG,
    REGISTRY,
    ROUTES,
    RUNNER,
    RUNTIME,
    STARTED_AT,
    HostConfig,
    Route,
    RouteTables,
    is_local_request,
)
from durable_local.http.dashboard import (
    DASHBOARD_BASE,
    DEFAULT_BASE,
    FALLBACK_BASE,
    choose_base,
    dashboard_routes,
)
from durable_local.http.durable_api import durable_routes
from durable_local.http.errors import Forbidden, error_middleware, json_response
from durable_local.http.functions import function_routes
from durable_local.http.guard import refusal
from durable_local.http.routing import RouteTemplate
from durable_local.http.urls import ADMIN_BASE, RPC_BASE, WEBHOOK_BASE
from durable_local.model.errors import StoreUnavailable
from durable_local.runtime.api import FunctionRunner, RuntimeAPI

log = logging.getLogger("durable_local.http")


@runtime_checkable
class Lifecycle(Protocol):
    """A runtime the app starts and stops with itself."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


async def host_status(request: web.Request, values: dict[str, str]) -> web.Response:
    uptime = time.monotonic() - request.app[STARTED_AT]
    return json_response(
        {
            "state": "Running",
            "version": durable_local.__version__,
            "host": "durable-local",
            "taskHubName": request.app[RUNTIME].hub_name,
            "functions": sorted(f.function_name for f in request.app[REGISTRY].http)
            + sorted(o.function_name for o in request.app[REGISTRY].orchestrators.values())
            + sorted(a.function_name for a in request.app[REGISTRY].activities.values()),
            "processUptime": int(uptime * 1000),
        }
    )


def admin_routes() -> list[Route]:
    return [
        Route(
            methods=frozenset({"GET"}),
            template=RouteTemplate("host/status"),
            handler=host_status,
            auth=AuthLevel.ADMIN,
            name="host_status",
        )
    ]


def _strip_base(raw_path: str, base: str) -> str | None:
    """The rest of ``raw_path`` after ``base`` (case-insensitive), or None if it is elsewhere."""
    if base == "":
        return raw_path
    lowered = raw_path.lower()
    if lowered == base or lowered.startswith(base + "/"):
        return raw_path[len(base) :] or "/"
    return None


def _match(routes: list[Route], path: str, method: str) -> tuple[Route, dict[str, str]] | None:
    for route in routes:
        if not route.allows(method):
            continue
        values = route.template.match(path)
        if values is not None:
            return route, values
    return None


async def dispatch(request: web.Request) -> web.StreamResponse:
    problem = request.app[RUNTIME].problem()
    if problem is not None:
        raise StoreUnavailable(problem)
    tables = request.app[ROUTES]
    config = request.app[CONFIG]
    raw_path = request.rel_url.raw_path
    method = request.method

    areas: list[tuple[str, list[Route], bool]] = [
        (WEBHOOK_BASE, tables.durable, False),
        (RPC_BASE, tables.durable, True),
        (ADMIN_BASE, tables.admin, False),
    ]
    prefix = "/" + config.route_prefix.strip("/") if config.route_prefix.strip("/") else ""
    functions = (prefix, tables.functions, False)
    dashboard = (request.app[DASHBOARD_BASE], tables.dashboard, False)
    # At /dashboard the app's routes win; moved under /runtime (reserved) the dashboard does.
    areas += [functions, dashboard] if dashboard[0] == DEFAULT_BASE else [dashboard, functions]

    for base, routes, local_only in areas:
        rest = _strip_base(raw_path, base.lower())
        if rest is None:
            continue
        if base == RPC_BASE or (base == WEBHOOK_BASE and not config.keys.enforced):
            reason = refusal(request, config)  # no key to protect it from a browser
            if reason is not None:
                raise Forbidden(reason)
        found = _match(routes, rest, method)
        if found is None:
            if base in (WEBHOOK_BASE, RPC_BASE, ADMIN_BASE, FALLBACK_BASE):
                break  # a reserved area: never fall through to the functions
            continue
        route, values = found
        if local_only:
            if not is_local_request(request):
                break
        elif not config.keys.allows(route.auth, presented_key(request.query, request.headers)):
            raise web.HTTPUnauthorized()
        return await route.handler(request, values)
    raise web.HTTPNotFound()


def create_app(
    runtime: RuntimeAPI,
    registry: FunctionRegistry,
    config: HostConfig | None = None,
    *,
    manage_runtime: bool = False,
    runner: FunctionRunner | None = None,
) -> web.Application:
    """The host's aiohttp application.

    With ``manage_runtime`` the runtime (which must have ``start``/``stop``) is started when
    the app starts and stopped when it shuts down. On shutdown the SDK client's shared HTTP
    session is closed, since no worker exit will do it.
    """
    config = config or HostConfig()
    app = web.Application(
        middlewares=[error_middleware],
        # aiohttp enforces the limit while reading; the handlers turn it into a JSON 413.
        client_max_size=config.max_body_size,
    )
    app[RUNTIME] = runtime
    app[REGISTRY] = registry
    app[CONFIG] = config
    app[ROUTES] = RouteTables(
        durable=durable_routes(),
        admin=admin_routes() + admin_function_routes(),
        functions=function_routes(registry),
        dashboard=dashboard_routes(),
    )
    app[DASHBOARD_BASE] = choose_base(app[ROUTES].functions, config.route_prefix)
    app[STARTED_AT] = time.monotonic()
    if runner is not None:
        app[RUNNER] = runner
    if manage_runtime:
        if not isinstance(runtime, Lifecycle):
            raise TypeError("manage_runtime needs a runtime with start() and stop()")
        app.cleanup_ctx.append(_runtime_lifecycle)
    app.on_cleanup.append(_close_sdk_session)
    app.router.add_route("*", "/{path:.*}", dispatch)
    return app


async def _runtime_lifecycle(app: web.Application) -> AsyncIterator[None]:
    runtime: Any = app[RUNTIME]
    await runtime.start()
    try:
        yield
    finally:
        await runtime.stop()


async def _close_sdk_session(app: web.Application) -> None:
    """Close the SDK client's module-level aiohttp session (bound to this event loop)."""
    with contextlib.suppress(ImportError):
        from azure.durable_functions.models.utils import http_utils

        close = getattr(http_utils, "_close_session", None)
        if close is not None:
            await close()
