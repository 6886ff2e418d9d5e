"""Orchestrator functions (blueprint ``bp``): the parent workflow and its sub-orchestrations.

* ``parent_workflow_orchestrator`` runs in ``sync`` mode (customer sync, then inventory sync)
  or ``devices`` mode (one ``device_provisioning_orchestrator`` per device, all in parallel).
* Each sub-orchestrator performs the same package handshake (``workflows.handshake``): build
  the package, send its URL to the consumer, wait for ``DownloadCompletedAck`` raced against a
  durable timer, record the outcome.

Orchestrators are deterministic generators replayed by the Durable runtime: they take time
from ``context.current_utc_datetime``, call other functions by their registered names, derive
child instance ids from their own id, and log only when not replaying. The function
signatures avoid ``from __future__ import annotations`` because the Python worker validates
annotations at load time.
"""

# The durable SDK ships without type information, so its decorators are untyped to mypy.
# mypy: allow-untyped-decorators

from typing import Any, cast

import azure.durable_functions as df
from azure_functions_logging import get_logger

from workflows.contracts import (
    CUSTOMER_SYNC,
    DEVICE_PROVISIONING,
    GET_NEW_DEVICE_IDS,
    INVENTORY_SYNC,
    ChildStatus,
    DevicesInput,
    DevicesOutput,
    FailedDevice,
    SyncInput,
    SyncOutput,
    customer_sync_id,
    device_child_id,
    device_child_prefix,
    inventory_sync_id,
)
from workflows.handshake import (
    CUSTOMER,
    DEVICE,
    INVENTORY,
    Gen,
    JsonDict,
    child_ack_base_url,
    child_ack_timeout,
    child_input,
    failure_reason,
    package_handshake,
    retry_options,
)
from workflows.settings import AppSettings, load_settings
from workflows.validation import (
    parse_parent_input,
    validate_device_ids,
    validate_id,
)

bp = df.Blueprint()
_log = get_logger(__name__)

#: Custom status is stored in a 16 KB slot on Azure Storage; 25 ids of up to ~140 characters
#: stay well inside it even for a 500-device run. The prefix lets a poller list the rest.
MAX_LISTED_CHILD_IDS = 25


@bp.orchestration_trigger(context_name="context")
def customer_sync_sub_orchestrator(context: df.DurableOrchestrationContext) -> Gen:
    """Export the customer profile, hand it to the CRM, wait for the CRM's ack."""
    data = child_input(context)
    subject: JsonDict = {
        "customerId": validate_id(data.get("customerId"), "customerId"),
        "segment": data.get("segment"),
    }
    if not isinstance(subject["segment"], str) or not subject["segment"]:
        raise ValueError("segment must be a non-empty string")
    return (
        yield from package_handshake(
            context, CUSTOMER, subject, child_ack_timeout(data), child_ack_base_url(data)
        )
    )


@bp.orchestration_trigger(context_name="context")
def inventory_sync_sub_orchestrator(context: df.DurableOrchestrationContext) -> Gen:
    """Snapshot the SKUs, hand the snapshot to the warehouse system, wait for its ack."""
    data = child_input(context)
    raw_skus = data.get("skus")
    if not isinstance(raw_skus, list) or not raw_skus:
        raise ValueError("skus must be a non-empty array")
    skus = [validate_id(sku, f"skus[{i}]") for i, sku in enumerate(raw_skus)]
    subject: JsonDict = {"skuCount": len(skus), "skus": skus}
    return (
        yield from package_handshake(
            context, INVENTORY, subject, child_ack_timeout(data), child_ack_base_url(data)
        )
    )


@bp.orchestration_trigger(context_name="context")
def device_provisioning_orchestrator(context: df.DurableOrchestrationContext) -> Gen:
    """Build the device's installation package, send it the URL, wait for the device's ack."""
    data = child_input(context)
    subject: JsonDict = {"deviceId": validate_id(data.get("deviceId"), "deviceId")}
    return (
        yield from package_handshake(
            context, DEVICE, subject, child_ack_timeout(data), child_ack_base_url(data)
        )
    )


# ---- the parent -----------------------------------------------------------------------------


def _parent_status(
    mode: str,
    stage: str,
    parent_id: str,
    *,
    prefix: str,
    pending: list[str],
    completed: int,
    total: int,
    **extra: Any,
) -> JsonDict:
    return {
        "mode": mode,
        "stage": stage,
        "instanceId": parent_id,
        "completed": completed,
        "total": total,
        "childInstanceIdPrefix": prefix,
        "childInstanceIds": pending[:MAX_LISTED_CHILD_IDS],
        "childInstanceIdsTruncated": len(pending) > MAX_LISTED_CHILD_IDS,
        **extra,
    }


def child_failure_status(error: BaseException) -> ChildStatus:
    """``terminated`` or ``failed`` for a child orchestration that did not return.

    Both reach the parent as ``SubOrchestrationInstanceFailed``. A child whose code failed
    carries failure details; a terminated one carries only the reason the terminate call gave
    (its ``Details`` are null: DTFx's TaskOrchestrationDispatcher, spec 7.7), which the SDK
    turns into the exception text ``"{reason} \n None"``.
    """
    return "terminated" if str(error).endswith(" \n None") else "failed"


def _crashed_child(step: str, child_id: str, error: BaseException, subject: JsonDict) -> JsonDict:
    """What the parent reports for a child orchestration that failed or was terminated."""
    return {
        "step": step,
        "instanceId": child_id,
        **subject,
        "status": child_failure_status(error),
        "reason": failure_reason(error),
        "packageUrl": None,
        "sha256": None,
        "digestVerified": False,
    }


def _child_settings(spec: SyncInput | DevicesInput) -> JsonDict:
    """The parent's ack window and ack-link base, passed on to every child."""
    extra: JsonDict = {"ackTimeoutSeconds": spec["ackTimeoutSeconds"]}
    if spec.get("ackBaseUrl"):
        extra["ackBaseUrl"] = spec.get("ackBaseUrl")
    return extra


def _call_child(
    context: df.DurableOrchestrationContext,
    name: str,
    child_input: JsonDict,
    child_id: str,
    step: str,
    subject: JsonDict,
) -> Gen:
    try:
        result = yield context.call_sub_orchestrator(name, child_input, child_id)
    except Exception as error:  # the child orchestration failed or was terminated
        return _crashed_child(step, child_id, error, subject)
    return cast(JsonDict, result)


def _run_sync(context: df.DurableOrchestrationContext, spec: SyncInput) -> Gen:
    parent_id: str = context.instance_id
    customer_id, inventory_id = customer_sync_id(parent_id), inventory_sync_id(parent_id)
    prefix = f"{parent_id}:"
    customer_subject: JsonDict = {
        "customerId": spec["customerId"],
        "segment": spec["customerSegment"],
    }
    inventory_subject: JsonDict = {"skuCount": len(spec["skus"]), "skus": spec["skus"]}

    context.set_custom_status(
        _parent_status(
            "sync", "customer_sync", parent_id, prefix=prefix, pending=[customer_id],
            completed=0, total=2,
        )
    )  # fmt: skip
    customer = yield from _call_child(
        context,
        CUSTOMER_SYNC,
        {**customer_subject, **_child_settings(spec)},
        customer_id,
        "customer_sync",
        customer_subject,
    )

    # Inventory starts only after the customer sync finished, whatever its outcome: the
    # warehouse snapshot does not depend on the CRM export succeeding.
    context.set_custom_status(
        _parent_status(
            "sync", "inventory_sync", parent_id, prefix=prefix, pending=[inventory_id],
            completed=1, total=2,
        )
    )  # fmt: skip
    inventory = yield from _call_child(
        context,
        INVENTORY_SYNC,
        {"skus": spec["skus"], **_child_settings(spec)},
        inventory_id,
        "inventory_sync",
        inventory_subject,
    )

    ok = customer.get("status") == "completed" and inventory.get("status") == "completed"
    output: SyncOutput = {
        "instanceId": parent_id,
        "mode": "sync",
        "customer": customer,
        "inventory": inventory,
        "status": "completed" if ok else "completed_with_errors",
    }
    context.set_custom_status(
        _parent_status(
            "sync", "completed", parent_id, prefix=prefix, pending=[], completed=2, total=2,
            status=output["status"],
        )
    )  # fmt: skip
    if not context.is_replaying:
        _log.info("sync run %s: %s", parent_id, output["status"], parent_instance_id=parent_id)
    return output


def _run_devices(
    context: df.DurableOrchestrationContext, spec: DevicesInput, settings: AppSettings
) -> Gen:
    parent_id: str = context.instance_id
    prefix = device_child_prefix(parent_id)
    device_ids = spec.get("deviceIds")
    if not device_ids:
        context.set_custom_status(
            _parent_status(
                "devices", "resolving_devices", parent_id, prefix=prefix, pending=[],
                completed=0, total=0,
            )
        )  # fmt: skip
        found = yield context.call_activity_with_retry(
            GET_NEW_DEVICE_IDS, retry_options(), {"parentInstanceId": parent_id}
        )
        if not isinstance(found, dict):
            raise ValueError(f"{GET_NEW_DEVICE_IDS} must return an object with deviceIds")
        device_ids = validate_device_ids(found.get("deviceIds"), settings.max_devices_per_run)

    # Every child is created before the first yield, so all of them are scheduled in the
    # same episode and run in parallel.
    child_ids = {device_id: device_child_id(parent_id, device_id) for device_id in device_ids}
    pending: dict[Any, str] = {}
    for device_id in device_ids:
        child_input = {"deviceId": device_id, **_child_settings(spec)}
        task = context.call_sub_orchestrator(DEVICE_PROVISIONING, child_input, child_ids[device_id])
        pending[task] = device_id

    results: dict[str, JsonDict] = {}
    total = len(device_ids)

    def progress(stage: str, **extra: Any) -> JsonDict:
        waiting = [child_ids[d] for d in device_ids if d not in results]
        done_ok = sum(1 for r in results.values() if r.get("status") == "completed")
        return _parent_status(
            "devices", stage, parent_id, prefix=prefix, pending=waiting,
            completed=len(results), total=total, succeeded=done_ok,
            failed=len(results) - done_ok, **extra,
        )  # fmt: skip

    context.set_custom_status(progress("provisioning"))
    if not context.is_replaying:
        _log.info("provisioning %d devices", total, parent_instance_id=parent_id)

    # task_all would raise at the first failed child and lose the others' results; task_any
    # hands back one finished child at a time, and a failed child's result is its exception.
    while pending:
        finished = yield context.task_any(list(pending))
        device_id = pending.pop(finished)
        if isinstance(finished.result, Exception):
            results[device_id] = _crashed_child(
                "device_provisioning", child_ids[device_id], finished.result,
                {"deviceId": device_id},
            )  # fmt: skip
        else:
            results[device_id] = cast(JsonDict, finished.result)
        context.set_custom_status(progress("provisioning"))

    succeeded = [d for d in device_ids if results[d].get("status") == "completed"]
    failed: list[FailedDevice] = [
        {"deviceId": d, "status": str(results[d].get("status")), "reason": results[d].get("reason")}
        for d in device_ids
        if results[d].get("status") != "completed"
    ]
    output: DevicesOutput = {
        "instanceId": parent_id,
        "mode": "devices",
        "total": total,
        "succeeded": succeeded,
        "failed": failed,
        "devices": {d: results[d] for d in device_ids},
        "status": "completed" if not failed else "completed_with_errors",
    }
    context.set_custom_status(progress("completed", status=output["status"]))
    if not context.is_replaying:
        _log.info(
            "devices run %s: %d succeeded, %d failed",
            parent_id,
            len(succeeded),
            len(failed),
            parent_instance_id=parent_id,
        )
    return output


@bp.orchestration_trigger(context_name="context")
def parent_workflow_orchestrator(context: df.DurableOrchestrationContext) -> Gen:
    """Run the sync or devices workflow named by the input's ``mode``."""
    settings = load_settings()
    spec = parse_parent_input(
        context.get_input(), settings.ack_timeout_seconds, settings.max_devices_per_run
    )
    if spec["mode"] == "sync":
        return (yield from _run_sync(context, spec))
    return (yield from _run_devices(context, spec, settings))
