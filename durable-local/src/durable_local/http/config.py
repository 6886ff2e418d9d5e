"""Configuration of the HTTP host and the typed keys under which the app stores its resources."""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web

from durable_local.functions.registry import FunctionRegistry
from durable_local.http.auth import AuthLevel, HostKeys
from durable_local.http.routing import RouteTemplate
from durable_local.http.urls import DEFAULT_CONNECTION
from durable_local.runtime.api import FunctionRunner, RuntimeAPI

DEFAULT_MAX_BODY_SIZE = 16 * 1024 * 1024


@dataclass(frozen=True)
class HostConfig:
    """What the HTTP layer needs besides the runtime and the registry."""

    route_prefix: str = "api"
    keys: HostKeys = field(default_factory=HostKeys)
    max_body_size: int = DEFAULT_MAX_BODY_SIZE
    app_dir: str = "."
    connection_name: str = DEFAULT_CONNECTION
    #: The address the server binds (its name is accepted in Host headers; see http.guard).
    bind_host: str = "127.0.0.1"
    #: More names accepted in Host headers (lower case), e.g. a container's service name.
    allowed_hosts: frozenset[str] = frozenset()


RouteHandler = Callable[[web.Request, dict[str, str]], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Route:
    """One entry of a routing table: methods (None = any), template, handler, auth level."""

    methods: frozenset[str] | None
    template: RouteTemplate
    handler: RouteHandler
    auth: AuthLevel
    name: str

    def allows(self, method: str) -> bool:
        return self.methods is None or method.upper() in self.methods


@dataclass(frozen=True)
class RouteTables:
    """The routing tables of the host, by area (matched against the path after the area base)."""

    durable: list[Route]
    admin: list[Route]
    functions: list[Route]
    dashboard: list[Route] = field(default_factory=list)


RUNTIME = web.AppKey("runtime", RuntimeAPI)
REGISTRY = web.AppKey("registry", FunctionRegistry)
CONFIG = web.AppKey("config", HostConfig)
ROUTES = web.AppKey("routes", RouteTables)
STARTED_AT = web.AppKey("started_at", float)
RUNNER = web.AppKey("runner", FunctionRunner)


def origin_of(request: web.Request) -> str:
    """``scheme://host[:port]`` as the client addressed this server (the Host header)."""
    return f"{request.scheme}://{request.host}"


def _socket_address(request: web.Request) -> tuple[str, int] | None:
    transport = request.transport
    if transport is None:
        return None
    sockname = transport.get_extra_info("sockname")
    if not isinstance(sockname, tuple) or len(sockname) < 2:
        return None
    return str(sockname[0]), int(sockname[1])


def local_address(request: web.Request) -> str | None:
    """The address the request's connection arrived on (lower case, no brackets)."""
    address = _socket_address(request)
    return address[0].lower().split("%")[0] if address is not None else None


def rpc_base_url(request: web.Request) -> str:
    """Where the SDK client inside this process reaches the RPC surface: the local address
    this connection arrived on (always reachable from this machine), ending with ``/``."""
    address = _socket_address(request)
    if address is None:
        return f"{origin_of(request)}/durabletask/"
    host, port = address
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}/durabletask/"


def is_local_request(request: web.Request) -> bool:
    """True for a request from this machine: loopback, or a connection to our own address.

    The extension serves the RPC API on a loopback-only listener; serving it on the public
    port, durable-local refuses it to other machines instead.
    """
    remote = request.remote
    if not remote:
        return False
    try:
        if ipaddress.ip_address(remote.split("%")[0]).is_loopback:
            return True
    except ValueError:
        return False
    address = _socket_address(request)
    return address is not None and address[0] == remote
