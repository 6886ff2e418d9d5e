"""The dashboard: a browser UI over durable-local's own HTTP API, served on the host's port.

Static assets (plain HTML, CSS and JavaScript, no build step) ship inside this package
(``static/``); a few read-only JSON endpoints under ``<base>/api/`` add what the Durable HTTP
API has no call for (the app's functions, counts per status, a name filter). Every read and
action goes through the runtime API (``RuntimeAPI``) or, from the browser, through the public
Durable HTTP API; nothing here touches the store.

The dashboard lives at ``/dashboard/``; when one of the app's HTTP routes takes that path the
app wins and the dashboard moves to ``/runtime/dashboard/`` (the host reserves ``runtime``).
"""

from durable_local.http.dashboard.mount import (
    DASHBOARD_BASE,
    DEFAULT_BASE,
    FALLBACK_BASE,
    choose_base,
    dashboard_path,
    dashboard_routes,
)

__all__ = [
    "DASHBOARD_BASE",
    "DEFAULT_BASE",
    "FALLBACK_BASE",
    "choose_base",
    "dashboard_path",
    "dashboard_routes",
]
