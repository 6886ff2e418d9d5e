"""Operator routes (blueprint ``bp``): ``POST /api/runs/{instanceId}/cancel``.

Terminating a parent through the Durable API leaves its children running until their ack
windows end (DTFx does not cascade terminations). Cancelling a run terminates the parent
first, waits until it is no longer running (so it cannot start another child), then
terminates every child that is still active, found by the id prefix ``{instanceId}:`` (the
children's ids derive from the parent's). The SDK's prefix query reads one page, so the route
asks again until no active child is left (or ``CANCEL_BUDGET_SECONDS`` passed: then the answer
says how many are still running, and calling it again finishes the job).

Answers (JSON): **202** ``{"instanceId", "parent": {"runtimeStatus", "terminated"},
"children": {"terminated": [...], "stillActive": n}}``; **400** for an invalid id or body;
**404** when no run has that id; **503** when the durable runtime cannot be reached. The auth
level is the starters' (``HTTP_AUTH_LEVEL``, function by default).
"""

# The durable SDK ships without type information, so its decorators are untyped to mypy.
# mypy: allow-untyped-decorators

import asyncio
import json
import time

import azure.durable_functions as df
import azure.functions as func
from azure.durable_functions.models.OrchestrationRuntimeStatus import OrchestrationRuntimeStatus
from azure_functions_logging import get_logger

from workflows.ack import MAX_REASON_CHARS
from workflows.contracts import PARENT_WORKFLOW
from workflows.http_json import TERMINAL_STATUSES, json_response
from workflows.starters import AUTH_LEVEL
from workflows.validation import ValidationError, validate_instance_id

bp = df.Blueprint(http_auth_level=AUTH_LEVEL)
_log = get_logger(__name__)

#: How long one cancel call keeps terminating children before it answers.
CANCEL_BUDGET_SECONDS = 60.0
#: Terminate calls in flight at once (each is one request to the durable runtime).
_PARALLEL_TERMINATES = 16
_ACTIVE = [
    OrchestrationRuntimeStatus.Pending,
    OrchestrationRuntimeStatus.Running,
    OrchestrationRuntimeStatus.Suspended,
    OrchestrationRuntimeStatus.ContinuedAsNew,
]


class _Unavailable(Exception):
    """The durable runtime did not answer a management call."""


def _reason(body: bytes, instance_id: str) -> str:
    default = f"run {instance_id} cancelled through POST /api/runs/{instance_id}/cancel"
    if not body.strip():
        return default
    try:
        value = json.loads(body)
    except ValueError:
        raise ValidationError("body is not valid JSON", "body") from None
    if not isinstance(value, dict):
        raise ValidationError('body must be a JSON object like {"reason": "..."}', "body")
    for key in value:
        if key != "reason":
            raise ValidationError(f"unknown field {str(key)[:64]!r}", str(key)[:64])
    reason = value.get("reason")
    if reason is None:
        return default
    if not isinstance(reason, str) or not reason.strip() or len(reason) > MAX_REASON_CHARS:
        raise ValidationError(f"reason must be a string of 1 to {MAX_REASON_CHARS}", "reason")
    if any(not ch.isprintable() for ch in reason):
        raise ValidationError("reason must not contain control characters", "reason")
    return reason.strip()


@bp.route(route="runs/{instanceId}/cancel", methods=["POST"], auth_level=AUTH_LEVEL)
@bp.durable_client_input(client_name="client")
async def cancel_run(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    """Terminate a run: the parent, then every child still active."""
    try:
        return await _cancel(req, client)
    except _Unavailable:
        return json_response({"error": "the durable runtime is unavailable; retry"}, 503)
    except Exception as error:  # always JSON, never the host's empty 500
        _log.error("cancel failed unexpectedly: %s", type(error).__name__)
        return json_response({"error": "internal error; call again to finish the cancel"}, 500)


async def _status(client: df.DurableOrchestrationClient, instance_id: str) -> object:
    try:
        return await client.get_status(instance_id, show_input=False)
    except Exception as error:
        raise _Unavailable from error


async def _cancel(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    try:
        instance_id = validate_instance_id(req.route_params.get("instanceId"))
        if instance_id is None:
            raise ValidationError("instanceId must not be empty", "instanceId")
        reason = _reason(req.get_body(), instance_id)
    except ValidationError as error:
        return json_response(error.to_json(), 400)

    status = await _status(client, instance_id)
    if not status or getattr(status, "name", None) != PARENT_WORKFLOW:
        return json_response(
            {"error": f"no run with instance id {instance_id!r}", "instanceId": instance_id}, 404
        )
    log = _log.bind(parent_instance_id=instance_id)
    deadline = time.monotonic() + CANCEL_BUDGET_SECONDS
    parent_status = _runtime_status(status)
    parent_terminated = False
    if parent_status not in TERMINAL_STATUSES:
        try:
            await client.terminate(instance_id, reason)
        except Exception as error:
            raise _Unavailable from error
        parent_terminated = True
        parent_status = await _wait_until_finished(client, instance_id, deadline)

    terminated, still_active = await _terminate_children(
        client, f"{instance_id}:", reason, deadline
    )
    log.info(
        "cancelled run %s: parent %s, %d children terminated, %d still active",
        instance_id,
        parent_status,
        len(terminated),
        still_active,
    )
    return json_response(
        {
            "instanceId": instance_id,
            "reason": reason,
            "parent": {"runtimeStatus": parent_status, "terminated": parent_terminated},
            "children": {"terminated": sorted(terminated), "stillActive": still_active},
        },
        202,
    )


def _runtime_status(status: object) -> str:
    value = getattr(status, "runtime_status", None)
    return str(getattr(value, "value", value))


async def _wait_until_finished(
    client: df.DurableOrchestrationClient, instance_id: str, deadline: float
) -> str:
    """Poll until the parent's termination is applied (it then starts no more children)."""
    while True:
        current = _runtime_status(await _status(client, instance_id))
        if current in TERMINAL_STATUSES or time.monotonic() >= deadline:
            return current
        await asyncio.sleep(0.1)


async def _terminate_children(
    client: df.DurableOrchestrationClient, prefix: str, reason: str, deadline: float
) -> tuple[set[str], int]:
    requested: set[str] = set()
    gate = asyncio.Semaphore(_PARALLEL_TERMINATES)

    async def terminate(child_id: str) -> None:
        async with gate:
            try:
                await client.terminate(child_id, reason)  # 410 (already finished) is fine
            except Exception as error:
                raise _Unavailable from error

    while True:
        try:
            page = await client.get_status_by(instance_id_prefix=prefix, runtime_status=_ACTIVE)
        except Exception as error:
            raise _Unavailable from error
        active = {s.instance_id for s in page if s.instance_id.startswith(prefix)}
        fresh = sorted(active - requested)
        if not active:
            return requested, 0
        if not fresh:
            # Every active child on this page was asked already; the runtime is applying the
            # terminations. Wait for them to show, so the next page can show the rest.
            if time.monotonic() >= deadline:
                return requested, len(active)
            await asyncio.sleep(0.1)
            continue
        await asyncio.gather(*(terminate(child_id) for child_id in fresh))
        requested.update(fresh)
