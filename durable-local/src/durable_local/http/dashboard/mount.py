"""Where the dashboard is mounted and its routing table (relative to that base)."""

from __future__ import annotations

from aiohttp import web

from durable_local.http.auth import AuthLevel
from durable_local.http.config import Route, RouteHandler
from durable_local.http.dashboard.api import functions, instances, summary
from durable_local.http.dashboard.assets import asset, index
from durable_local.http.routing import RouteTemplate

#: Where the dashboard is served unless an app route takes that path.
DEFAULT_BASE = "/dashboard"
#: Where it goes then: the Functions host reserves routes starting with ``runtime``.
FALLBACK_BASE = "/runtime/dashboard"
#: The base the app serves the dashboard under (no trailing slash).
DASHBOARD_BASE = web.AppKey("dashboard_base", str)

# Paths under the default base that the dashboard needs; an app route matching any of them
# would shadow part of it, so the dashboard moves as a whole.
_PROBES = ("", "/", "/index.html", "/static/app.js", "/api/instances")


def choose_base(function_routes: list[Route], route_prefix: str) -> str:
    """``DEFAULT_BASE``, or ``FALLBACK_BASE`` when an app route takes a dashboard path."""
    prefix = "/" + route_prefix.strip("/") if route_prefix.strip("/") else ""
    for probe in _PROBES:
        path = DEFAULT_BASE + probe
        if prefix:
            if not (path.lower() + "/").startswith(prefix.lower() + "/"):
                continue
            path = path[len(prefix) :] or "/"
        if any(route.template.match(path) is not None for route in function_routes):
            return FALLBACK_BASE
    return DEFAULT_BASE


def dashboard_path(app: web.Application) -> str:
    """The dashboard's path on ``app``, with its trailing slash (``/dashboard/``)."""
    return app[DASHBOARD_BASE] + "/"


def _route(template: str, handler: RouteHandler, auth: AuthLevel) -> Route:
    return Route(
        methods=frozenset({"GET", "HEAD"}),
        template=RouteTemplate(template),
        handler=handler,
        auth=auth,
        name=f"dashboard_{handler.__name__}",
    )


def dashboard_routes() -> list[Route]:
    """The pages and assets are open (they hold no data); the data needs the system level."""
    return [
        _route("", index, AuthLevel.ANONYMOUS),
        _route("index.html", index, AuthLevel.ANONYMOUS),
        _route("static/{*path}", asset, AuthLevel.ANONYMOUS),
        _route("api/functions", functions, AuthLevel.SYSTEM),
        _route("api/instances", instances, AuthLevel.SYSTEM),
        _route("api/summary", summary, AuthLevel.SYSTEM),
    ]
