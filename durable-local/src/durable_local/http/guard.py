"""Browser attacks refused: DNS rebinding (a foreign ``Host``) and cross-origin requests.

A web page the developer opens can send requests to the loopback (``fetch`` with a simple
content type needs no preflight), and through DNS rebinding (a name of the attacker's that
resolves to 127.0.0.1) read the answers. The Durable API has no key on the ``/durabletask/``
base (the SDK's ``rpcBaseUrl``) nor, by default, on the public base; so requests there must
address this server by a name a browser cannot be tricked into (a loopback name or address, the
address the connection arrived on, the configured host, this machine's name, or one allowed by
the operator), and carry no ``Origin`` but the server's own.
"""

from __future__ import annotations

import ipaddress
import socket
from functools import cache

from aiohttp import web

from durable_local.http.config import HostConfig, local_address, origin_of

LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})
WILDCARDS = frozenset({"", "0.0.0.0", "::"})


def refusal(request: web.Request, config: HostConfig) -> str | None:
    """Why this request is refused (403), or None."""
    header = request.headers.get("Host")
    name = host_name(header) if header is not None else None  # no browser omits it
    if name is not None and not allowed_host(name, request, config):
        return (
            f"the Host header names '{name}', which is not this server: requests to the Durable "
            "API must address it by a loopback name or address, or by the configured host "
            "(--host, --allowed-host)"
        )
    origin = request.headers.get("Origin")
    if origin is not None and origin.lower() != origin_of(request).lower():
        return (
            f"cross-origin request from '{origin}' refused: the Durable API answers only its own "
            "origin"
        )
    return None


def host_name(header: str) -> str:
    """The name in a Host header, without its port or IPv6 brackets, lower case."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1:].split("]", 1)[0]
    if header.count(":") == 1:
        return header.split(":", 1)[0]
    return header


def allowed_host(name: str, request: web.Request, config: HostConfig) -> bool:
    if not name:
        return False
    if name in LOOPBACK_NAMES or name.endswith(".localhost"):
        return True
    if is_loopback_address(name):
        return True
    if name in config.allowed_hosts:
        return True
    bound = config.bind_host.lower()
    if bound not in WILDCARDS and name == bound:
        return True
    if name == local_address(request):
        return True  # the address the connection arrived on (the SDK client's rpcBaseUrl)
    return name in machine_names()


def is_loopback_address(name: str) -> bool:
    try:
        return ipaddress.ip_address(name.split("%")[0]).is_loopback
    except ValueError:
        return False


@cache
def machine_names() -> frozenset[str]:
    names = {socket.gethostname().lower()}
    names.add(socket.getfqdn().lower())
    return frozenset(names)


def binding_warning(host: str, keys_enforced: bool) -> str | None:
    """The start-up warning for a server reachable beyond this machine without keys."""
    if keys_enforced or is_loopback_address(host) or host.lower() in LOOPBACK_NAMES:
        return None
    return (
        f"warning: listening on {host or 'every address'} without keys: anyone who can reach "
        "this port can start, read and terminate instances. Set --function-key, --master-key "
        "and --system-key (or the DURABLE_LOCAL_*_KEY variables) to require keys."
    )
