"""``POST /admin/functions/{name}``: run a non-HTTP function by hand, as the Functions host's admin
API does (admin level: the master key when keys are enforced). The host answers 202 and runs
the function in the background; body ``{"input": ...}`` (a timer ignores its input)."""

from __future__ import annotations

import asyncio
import json
import logging

from aiohttp import web

from durable_local.http.auth import AuthLevel
from durable_local.http.config import REGISTRY, RUNNER, Route
from durable_local.http.durable_api import read_body
from durable_local.http.errors import json_response
from durable_local.http.routing import RouteTemplate
from durable_local.model import BadRequest, DurableError

log = logging.getLogger("durable_local.http")
_BACKGROUND: set[asyncio.Task[bool]] = set()


class FunctionNotFound(DurableError):
    """No function of that name in the app (404)."""

    http_status = 404
    exception_type = "System.ArgumentException"


async def run_function(request: web.Request, values: dict[str, str]) -> web.Response:
    name = values["name"]
    registry = request.app[REGISTRY]
    body = await read_body(request)
    if body.strip():
        try:
            parsed = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise BadRequest('The request body must be JSON: {"input": ...}.') from None
        if not isinstance(parsed, dict):
            raise BadRequest('The request body must be a JSON object: {"input": ...}.')
    lowered = name.lower()
    if any(d.function_name.lower() == lowered for d in registry.disabled):
        raise BadRequest(f"The function '{name}' is disabled (AzureWebJobs.{name}.Disabled).")
    if any(h.function_name.lower() == lowered for h in registry.http):
        raise BadRequest(f"'{name}' is an HTTP function: call its route instead.")
    if registry.timer(name) is None:
        kinds = {
            **{
                o.function_name.lower(): "orchestrationTrigger"
                for o in registry.orchestrators.values()
            },
            **{a.function_name.lower(): "activityTrigger" for a in registry.activities.values()},
            **{u.function_name.lower(): u.trigger_type for u in registry.unsupported},
        }
        if lowered in kinds:
            raise BadRequest(
                f"'{name}' is a {kinds[lowered]} function; durable-local runs timer functions "
                "by hand (orchestrations start through the Durable HTTP API)."
            )
        raise FunctionNotFound(f"No function named '{name}' in this app.")
    runner = request.app.get(RUNNER)
    if runner is None:
        raise BadRequest("This host does not run timer functions.")
    task = asyncio.create_task(runner.run_now(name))
    _BACKGROUND.add(task)
    task.add_done_callback(_BACKGROUND.discard)
    return json_response({"function": name, "status": "Accepted"}, status=202)


def admin_function_routes() -> list[Route]:
    return [
        Route(
            methods=frozenset({"POST"}),
            template=RouteTemplate("functions/{name}"),
            handler=run_function,
            auth=AuthLevel.ADMIN,
            name="run_function",
        )
    ]
