"""The dashboard's static files, read once from the package (``static/``) and served from memory.

Only files that ship in the package are served (no path is joined onto the file system), with
headers that keep the page same-origin: a Content-Security-Policy allowing nothing but this
origin, no framing, no MIME sniffing, no referrer.
"""

from __future__ import annotations

import functools
from importlib import resources

from aiohttp import web

from durable_local.model.errors import DurableError

_TYPES = {
    ".html": "text/html",
    ".js": "text/javascript",
    ".css": "text/css",
    ".svg": "image/svg+xml",
    ".txt": "text/plain",
}

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        # Inline style attributes position the bars; scripts come from this origin only.
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
        "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
        "form-action 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


class AssetNotFound(DurableError):
    """A dashboard file that does not ship with the package (404)."""

    http_status = 404
    exception_type = "System.IO.FileNotFoundException"
    message = "No HTTP resource was found that matches the request URI."

    def __init__(self, name: str) -> None:
        super().__init__(f"The dashboard has no file '{name}'.")


@functools.cache
def shipped_assets() -> dict[str, tuple[bytes, str]]:
    """Every file under ``static/`` by its relative path: (content, content type)."""
    found: dict[str, tuple[bytes, str]] = {}
    root = resources.files("durable_local.http.dashboard").joinpath("static")

    def walk(folder: resources.abc.Traversable, prefix: str) -> None:
        for entry in folder.iterdir():
            if entry.is_dir():
                walk(entry, f"{prefix}{entry.name}/")
                continue
            suffix = "." + entry.name.rsplit(".", 1)[-1] if "." in entry.name else ""
            if suffix in _TYPES:
                found[prefix + entry.name] = (entry.read_bytes(), _TYPES[suffix])

    walk(root, "")
    sources = {name: found[f"js/{name}"][0].decode() for name in BUNDLE_ORDER}
    found[BUNDLE] = (bundle(sources).encode(), _TYPES[".js"])
    return found


#: The scripts in dependency order: each is an ES module in the package (readable, and
#: loadable one by one), served to the page as one script so that it loads in one request.
BUNDLE_ORDER = (
    "dom.js",
    "api.js",
    "json.js",
    "timeline.js",
    "actions.js",
    "list.js",
    "instance.js",
    "functions.js",
    "app.js",
)
BUNDLE = "dashboard.js"


def bundle(sources: dict[str, str]) -> str:
    """The modules as one classic script: their ``import`` lines dropped (every name they bring
    is declared earlier in the same scope) and ``export`` keywords removed, in one closure."""
    parts = ['"use strict";\n(() => {']
    for name in BUNDLE_ORDER:
        lines = [
            line.removeprefix("export ")
            for line in sources[name].splitlines()
            if not line.startswith("import ")
        ]
        parts.append(f"// ---- {name}\n" + "\n".join(lines))
    parts.append("})();\n")
    return "\n".join(parts)


def _send(name: str) -> web.Response:
    found = shipped_assets().get(name)
    if found is None:
        raise AssetNotFound(name)
    body, content_type = found
    return web.Response(
        body=body, content_type=content_type, charset="utf-8", headers=SECURITY_HEADERS
    )


async def index(request: web.Request, values: dict[str, str]) -> web.StreamResponse:
    # Relative asset URLs need the trailing slash.
    if not request.path.endswith("/") and not request.path.endswith(".html"):
        raise web.HTTPFound(request.path + "/")
    return _send("index.html")


async def asset(request: web.Request, values: dict[str, str]) -> web.StreamResponse:
    return _send(values.get("path") or "")
