"""The ack route (blueprint ``bp``): ``POST /api/acks/{token}``, anonymous.

This is how consumers acknowledge a download without any key of the app: the signed token
(``workflows.ack_links``) is the credential, and it can only acknowledge the one child it was
issued for, until that child's deadline. In this order:

1. the token verifies (constant time, current or previous key), else **403**;
2. its deadline has not passed, else **410**;
3. the body is an ack (``workflows.ack.parse_ack_body``), else **400** naming the field;
4. the child still waits: it exists and is not finished, else **410**; and it has not moved on
   past its ack (a second ack after the first was taken gets **410**; two acks racing each
   other may both get 202, and the child uses the first);
5. ``DownloadCompletedAck`` is raised through the durable client: **202**.

Every answer is JSON (``{"error", ...}`` for the failures); nothing is raised out of the
function (an unexpected error is a logged 500 JSON, the durable runtime unreachable a 503).
The token is never logged. Operators can still raise the event through the Durable HTTP API.
"""

# The durable SDK ships without type information, so its decorators are untyped to mypy.
# mypy: allow-untyped-decorators

from datetime import UTC, datetime

import azure.durable_functions as df
import azure.functions as func
from azure_functions_logging import get_logger

from workflows.ack import AckBodyError, parse_ack_body
from workflows.ack_links import AckLinkError, load_ack_keys, verify_token
from workflows.contracts import ACK_EVENT
from workflows.http_json import TERMINAL_STATUSES, json_response
from workflows.settings import SettingsError

bp = df.Blueprint()
_log = get_logger(__name__)

#: Custom-status stages after which a child no longer takes an ack.
_PAST_THE_ACK = frozenset({"recording_outcome", "done"})


def _now() -> datetime:
    return datetime.now(UTC)


@bp.route(route="acks/{token}", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
@bp.durable_client_input(client_name="client")
async def acknowledge_download(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    """A consumer confirms (or reports a failed) download through its signed ack link."""
    try:
        return await _acknowledge(req, client)
    except Exception as error:  # the contract is "always JSON": never let the host answer
        _log.error("ack route failed unexpectedly: %s", type(error).__name__)
        return json_response({"error": "internal error; the ack was not recorded"}, 500)


async def _acknowledge(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    try:
        keys = load_ack_keys()
    except SettingsError as error:
        _log.error("cannot take acks: %s", error)
        return json_response({"error": str(error), "field": error.name}, 500)
    try:
        claim = verify_token(keys, req.route_params.get("token", ""), ACK_EVENT)
    except AckLinkError as error:
        _log.warning("refused an ack: invalid ack link")
        return json_response({"error": str(error)}, error.http_status)
    child = claim.instance_id
    log = _log.bind(instance_id=child)
    if claim.expired(_now()):
        log.info("refused an ack for %s: the link expired", child)
        return json_response(
            {
                "error": f"the ack link expired at {claim.deadline.isoformat()}",
                "instanceId": child,
            },
            410,
        )
    try:
        payload = parse_ack_body(req.get_body())
    except AckBodyError as error:
        return json_response({"error": error.message, "field": error.field}, 400)

    gone = await _no_longer_waiting(client, child)
    if gone is not None:
        return gone
    try:
        await client.raise_event(child, ACK_EVENT, payload)
    except Exception:
        # The child may have finished between our look and the event (the API's 410).
        gone = await _no_longer_waiting(client, child)
        if gone is not None:
            return gone
        log.warning("could not raise %s on %s", ACK_EVENT, child)
        return json_response({"error": "the durable runtime did not take the ack; retry"}, 503)
    log.info("ack for %s accepted (ok=%s)", child, payload["ok"])
    return json_response({"instanceId": child, "eventName": ACK_EVENT, "accepted": True}, 202)


async def _no_longer_waiting(
    client: df.DurableOrchestrationClient, child: str
) -> func.HttpResponse | None:
    """A 410 when ``child`` no longer takes an ack, a 503 when we cannot tell, else None."""
    try:
        status = await client.get_status(child)
    except Exception:
        return json_response({"error": "the durable runtime is unavailable; retry"}, 503)
    if not status:  # get_status answers a falsy status for an unknown (purged) instance
        return json_response({"error": "this child no longer exists", "instanceId": child}, 410)
    runtime_status = status.runtime_status.value if status.runtime_status else None
    if runtime_status in TERMINAL_STATUSES:
        return json_response(
            {
                "error": f"this child already finished ({runtime_status})",
                "instanceId": child,
                "runtimeStatus": runtime_status,
            },
            410,
        )
    custom = status.custom_status
    if isinstance(custom, dict) and custom.get("stage") in _PAST_THE_ACK:
        return json_response(
            {
                "error": "this child already has its ack (or its deadline passed)",
                "instanceId": child,
                "runtimeStatus": runtime_status,
            },
            410,
        )
    return None
