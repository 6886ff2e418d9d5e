"""The dashboard's JSON endpoints: what the Durable HTTP API has no call for.

* ``api/functions``: the app's functions by kind, HTTP functions with their URLs (registry);
* ``api/instances``: one page of instances like ``GET instances`` plus a ``name`` filter
  (case-insensitive substring of the orchestrator name); the answer carries its own
  continuation token;
* ``api/summary``: counts per status (ignoring the status filter, so they can serve as its
  choices) and a histogram of starts over time (honouring every filter).

All of them read through the runtime API (``RuntimeAPI.query``), never the store.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
from datetime import datetime
from typing import Any

from aiohttp import web

from durable_local.http.config import CONFIG, REGISTRY, RUNTIME, origin_of
from durable_local.http.durable_api import CONTINUATION_HEADER, query_of
from durable_local.http.durable_api import _filter as durable_filter
from durable_local.http.errors import json_response
from durable_local.http.urls import WEBHOOK_BASE
from durable_local.model import QueryFilter, RuntimeStatus, parse_time
from durable_local.model.errors import BadRequest
from durable_local.runtime.api import RuntimeAPI, StatusObject

DEFAULT_PAGE = 50
MAX_PAGE = 1000
#: Page size used when scanning (name filter, summary).
SCAN_PAGE = 1000
#: A name-filtered page stops scanning after this many instances and hands out a token.
MAX_SCANNED = 50_000
HISTOGRAM_BUCKETS = 48


async def functions(request: web.Request, values: dict[str, str]) -> web.Response:
    registry = request.app[REGISTRY]
    config = request.app[CONFIG]
    prefix = "/" + config.route_prefix.strip("/") if config.route_prefix.strip("/") else ""
    origin = origin_of(request)
    http = [
        {
            "name": f.function_name,
            "methods": list(f.methods) or ["GET", "POST"],
            "route": f.route,
            "url": f"{origin}{prefix}/{f.route.strip('/')}",
            "authLevel": f.auth_level,
            "durableClient": f.client_binding is not None,
        }
        for f in sorted(registry.http, key=lambda f: f.function_name.lower())
    ]
    start_url = f"{origin}{WEBHOOK_BASE}/orchestrators/"
    orchestrators = [
        {"name": o.name, "functionName": o.function_name, "startUrl": start_url + o.name}
        for o in sorted(registry.orchestrators.values(), key=lambda o: o.name.lower())
    ]
    activities = [
        {"name": a.name, "functionName": a.function_name}
        for a in sorted(registry.activities.values(), key=lambda a: a.name.lower())
    ]
    unsupported = [
        {"name": u.function_name, "trigger": u.trigger_type} for u in registry.unsupported
    ]
    return json_response(
        {
            "taskHub": request.app[RUNTIME].hub_name,
            "routePrefix": config.route_prefix,
            "http": http,
            "orchestrators": orchestrators,
            "activities": activities,
            "unsupported": unsupported,
        }
    )


def _page_size(query: dict[str, str]) -> int:
    text = query.get("top")
    if not text:
        return DEFAULT_PAGE
    try:
        size = int(text)
    except ValueError:
        raise BadRequest("The 'top' parameter must be an integer.") from None
    if not 1 <= size <= MAX_PAGE:
        raise BadRequest(f"The 'top' parameter must be between 1 and {MAX_PAGE}.")
    return size


def _encode_token(cursor: str | None, skip: int) -> str:
    raw = json.dumps([cursor, skip]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_token(token: str | None) -> tuple[str | None, int]:
    if not token:
        return None, 0
    try:
        padded = token + "=" * (-len(token) % 4)
        cursor, skip = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, TypeError, binascii.Error):
        raise BadRequest("The continuation token is not valid.") from None
    if not (cursor is None or isinstance(cursor, str)) or not isinstance(skip, int) or skip < 0:
        raise BadRequest("The continuation token is not valid.")
    return cursor, skip


def _named(item: StatusObject, name: str | None) -> bool:
    return not name or name in str(item.get("name") or "").lower()


async def instances(request: web.Request, values: dict[str, str]) -> web.Response:
    query = query_of(request)
    runtime: RuntimeAPI = request.app[RUNTIME]
    flt = durable_filter(query)
    name = (query.get("name") or "").strip().lower() or None
    top = _page_size(query)
    token = request.headers.get(CONTINUATION_HEADER) or query.get("continuationtoken")
    cursor, skip = _decode_token(token)
    show_input = query.get("showinput", "").lower() == "true"
    items: list[StatusObject] = []
    scanned = 0
    next_token: str | None = None
    while True:
        # Without a name filter every item matches: ask for exactly what is missing.
        size = (top - len(items)) + skip if name is None else SCAN_PAGE
        page, following = await runtime.query(
            flt, page_size=size, continuation=cursor, show_input=show_input
        )
        for index in range(skip, len(page)):
            scanned += 1
            if _named(page[index], name):
                items.append(page[index])
            if len(items) == top and index + 1 < len(page):
                next_token = _encode_token(cursor, index + 1)
                break
        else:
            next_token = _encode_token(following, 0) if following else None
            if len(items) < top and following and scanned < MAX_SCANNED:
                cursor, skip = following, 0
                await asyncio.sleep(0)
                continue
        break
    return json_response(
        {"items": items, "continuationToken": next_token},
        headers={CONTINUATION_HEADER: next_token or ""},
    )


async def _scan(runtime: RuntimeAPI, flt: QueryFilter) -> list[StatusObject]:
    everything: list[StatusObject] = []
    cursor: str | None = None
    while True:
        page, cursor = await runtime.query(
            flt, page_size=SCAN_PAGE, continuation=cursor, show_input=False
        )
        everything.extend(page)
        if not cursor:
            return everything
        await asyncio.sleep(0)  # a big store: let the host's other work run between pages


def _histogram(times: list[datetime]) -> dict[str, Any]:
    if not times:
        return {"from": None, "to": None, "bucketSeconds": 0, "counts": []}
    first, last = min(times), max(times)
    span = max((last - first).total_seconds(), 1.0)
    width = span / HISTOGRAM_BUCKETS
    counts = [0] * HISTOGRAM_BUCKETS
    for when in times:
        slot = min(int((when - first).total_seconds() / width), HISTOGRAM_BUCKETS - 1)
        counts[slot] += 1
    return {
        "from": first.isoformat().replace("+00:00", "Z"),
        "to": last.isoformat().replace("+00:00", "Z"),
        "bucketSeconds": width,
        "counts": counts,
    }


async def summary(request: web.Request, values: dict[str, str]) -> web.Response:
    query = query_of(request)
    runtime: RuntimeAPI = request.app[RUNTIME]
    flt = durable_filter(query)
    name = (query.get("name") or "").strip().lower() or None
    unfiltered = QueryFilter(
        created_time_from=flt.created_time_from,
        created_time_to=flt.created_time_to,
        instance_id_prefix=flt.instance_id_prefix,
    )
    counts = {status.value: 0 for status in RuntimeStatus}
    times: list[datetime] = []
    wanted = {status.value for status in flt.runtime_status}
    for item in await _scan(runtime, unfiltered):
        if not _named(item, name):
            continue
        state = str(item.get("runtimeStatus"))
        counts[state] = counts.get(state, 0) + 1
        if not wanted or state in wanted:
            times.append(parse_time(str(item["createdTime"])))
    return json_response(
        {"total": sum(counts.values()), "counts": counts, "histogram": _histogram(times)}
    )
