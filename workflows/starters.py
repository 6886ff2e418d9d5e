"""HTTP starters (blueprint ``bp``): ``POST /api/start-sub-orchestration`` and
``POST /api/provision-devices``.

Both validate the request (400 with ``{"error", "field"}``), refuse a client-chosen
``?instanceId=`` that names an instance still Pending, Running or Suspended (409, the
singleton pattern: look the instance up first, start nothing), start
``parent_workflow_orchestrator`` and answer with the standard 202 check-status response.

The auth level is ``FUNCTION`` unless the ``HTTP_AUTH_LEVEL`` app setting says otherwise; it
is read when the app is indexed, because the host fixes a function's auth level at load time.
The user functions are ``async def`` because the SDK's client middleware awaits them.
"""

# The durable SDK ships without type information, so its decorators are untyped to mypy.
# mypy: allow-untyped-decorators

import os
from collections.abc import Callable

import azure.durable_functions as df
import azure.functions as func
from azure.durable_functions.models.OrchestrationRuntimeStatus import OrchestrationRuntimeStatus
from azure_functions_logging import get_logger

from workflows.ack_links import load_ack_keys
from workflows.contracts import (
    PARENT_WORKFLOW,
    ParentInput,
    customer_sync_id,
    device_child_prefix,
    inventory_sync_id,
)
from workflows.http_json import json_response, request_base_url
from workflows.settings import AppSettings, SettingsError, load_settings
from workflows.validation import (
    ValidationError,
    parse_devices_request,
    parse_sync_request,
    validate_instance_id,
)

_log = get_logger(__name__)

#: Statuses in which an instance id is still taken (the host's own dedupe set).
ACTIVE_STATUSES = frozenset(
    {
        OrchestrationRuntimeStatus.Pending,
        OrchestrationRuntimeStatus.Running,
        OrchestrationRuntimeStatus.Suspended,
        OrchestrationRuntimeStatus.ContinuedAsNew,
    }
)


def _auth_level() -> func.AuthLevel:
    # Only this one setting is read at import: a typo in any other setting must not stop the
    # host from indexing the app (it surfaces as a 500 JSON error on the request instead).
    return load_settings({"HTTP_AUTH_LEVEL": os.environ.get("HTTP_AUTH_LEVEL", "")}).http_auth_level


AUTH_LEVEL = _auth_level()
bp = df.Blueprint(http_auth_level=AUTH_LEVEL)


def _describe_children(instance_id: str, spec: ParentInput) -> dict[str, object]:
    if spec["mode"] == "sync":
        return {
            "customer_sync_instance_id": customer_sync_id(instance_id),
            "inventory_sync_instance_id": inventory_sync_id(instance_id),
        }
    return {
        "device_child_prefix": device_child_prefix(instance_id),
        "device_count": len(spec.get("deviceIds", [])) or "from configuration",
    }


async def _start(
    req: func.HttpRequest,
    client: df.DurableOrchestrationClient,
    parse: Callable[[bytes, AppSettings], ParentInput],
    route: str,
) -> func.HttpResponse:
    try:
        settings = load_settings()
        # Every run hands out ack links: without a usable key it could build packages but never
        # tell a consumer, so refuse it here rather than fail each child's send activity.
        load_ack_keys()
    except SettingsError as error:
        _log.error("cannot start: %s", error)
        return json_response({"error": str(error), "field": error.name}, 500)
    try:
        instance_id = validate_instance_id(req.params.get("instanceId"))
        orchestrator_input = parse(req.get_body(), settings)
    except ValidationError as error:
        return json_response(error.to_json(), 400)
    base_url = request_base_url(req.url, route)
    if base_url is not None:
        # The ack links' base when ACK_BASE_URL and WEBSITE_HOSTNAME are unset (local hosts).
        orchestrator_input["ackBaseUrl"] = base_url

    if instance_id is not None:
        conflict = await _conflict(client, instance_id)
        if conflict is not None:
            return conflict
    try:
        new_id: str = await client.start_new(PARENT_WORKFLOW, instance_id, orchestrator_input)
    except Exception:
        # Another request may have started the same id between our lookup and this start;
        # the host then refuses it (HTTP 500 from the durable API). Report that as the 409 it is.
        if instance_id is not None:
            conflict = await _conflict(client, instance_id)
            if conflict is not None:
                return conflict
        raise
    log = _log.bind(parent_instance_id=new_id, **_describe_children(new_id, orchestrator_input))
    log.info("started %s (%s mode)", PARENT_WORKFLOW, orchestrator_input["mode"])
    response: func.HttpResponse = client.create_check_status_response(req, new_id)
    return response


async def _conflict(
    client: df.DurableOrchestrationClient, instance_id: str
) -> func.HttpResponse | None:
    # get_status answers a falsy status object (no createdTime) for an unknown id.
    status = await client.get_status(instance_id)
    if not status or status.runtime_status not in ACTIVE_STATUSES:
        return None
    runtime_status = status.runtime_status.value
    _log.warning(
        "refused start: instance %s is %s",
        instance_id,
        runtime_status,
        parent_instance_id=instance_id,
    )
    return json_response(
        {
            "error": f"instance {instance_id!r} is {runtime_status}; wait for it to finish "
            "or choose another instanceId",
            "field": "instanceId",
            "instanceId": instance_id,
            "runtimeStatus": runtime_status,
        },
        409,
    )


@bp.route(route="start-sub-orchestration", methods=["POST"], auth_level=AUTH_LEVEL)
@bp.durable_client_input(client_name="client")
async def start_sub_orchestration(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    """Start the sync workflow (customer sync, then inventory sync)."""
    return await _start(
        req,
        client,
        lambda body, settings: parse_sync_request(body, settings.ack_timeout_seconds),
        "start-sub-orchestration",
    )


@bp.route(route="provision-devices", methods=["POST"], auth_level=AUTH_LEVEL)
@bp.durable_client_input(client_name="client")
async def provision_devices(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    """Start the devices workflow (one provisioning sub-orchestration per device)."""
    return await _start(
        req,
        client,
        lambda body, settings: parse_devices_request(
            body, settings.ack_timeout_seconds, settings.max_devices_per_run
        ),
        "provision-devices",
    )
