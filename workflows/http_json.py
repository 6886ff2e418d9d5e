"""What every HTTP function of the app answers with: JSON bodies, and the status vocabulary."""

from __future__ import annotations

import json
from urllib.parse import urlsplit, urlunsplit

import azure.functions as func

#: Runtime statuses of an instance that has finished (the Durable HTTP API's 410 set).
TERMINAL_STATUSES = frozenset({"Completed", "Failed", "Terminated", "Canceled"})


def json_response(payload: object, status_code: int) -> func.HttpResponse:
    """``payload`` as an ``application/json`` answer."""
    return func.HttpResponse(
        json.dumps(payload), status_code=status_code, mimetype="application/json"
    )


def request_base_url(url: str, route: str) -> str | None:
    """``https://host/api`` from a request URL ``https://host/api/{route}?...`` (None if the
    URL does not end in ``route``)."""
    parts = urlsplit(url)
    suffix = "/" + route.strip("/")
    if parts.scheme not in ("http", "https") or not parts.path.endswith(suffix):
        return None
    return urlunsplit((parts.scheme, parts.netloc, parts.path[: -len(suffix)], "", ""))
