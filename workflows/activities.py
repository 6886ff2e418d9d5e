"""Activity functions (blueprint ``bp``): build packages, notify consumers, record outcomes.

Activities are where I/O happens and are called with retry options, so each one is
idempotent: package names and contents derive from the child instance id, the store
overwrites, and a repeated notification repeats the same message (same ``notificationId``,
same signed ack link), which consumers de-duplicate. They log through
``azure-functions-logging`` with the parent and child instance ids.

Function signatures use plain runtime types on purpose (no ``from __future__ import
annotations``, no ``list[str]``): the Python worker validates annotations when it loads the
functions and rejects anything that is not a class.
"""

# The durable SDK ships without type information, so its decorators are untyped to mypy.
# mypy: allow-untyped-decorators

from datetime import datetime
from typing import Any

import azure.durable_functions as df
from azure_functions_logging import get_logger

from workflows.ack_links import ack_base_url, ack_url, load_ack_keys, sign_token
from workflows.consumers import ConsumerNotification, get_notifier
from workflows.contracts import (
    BuildPackageRequest,
    DeliveryReceipt,
    DeviceIdsResult,
    GetDeviceIdsRequest,
    OutcomeRecord,
    PackageInfo,
    RecordOutcomeRequest,
    SendPackageRequest,
)
from workflows.logs import redact_url
from workflows.package_store import get_package_store
from workflows.packages import (
    OUTCOME_CONTAINER,
    PackageKind,
    blob_name_for,
    build_outcome_record,
    build_package,
)
from workflows.settings import load_settings

bp = df.Blueprint()
_log = get_logger(__name__)


def _ids(payload: Any) -> dict[str, object]:
    return {
        "parent_instance_id": payload.get("parentInstanceId"),
        "instance_id": payload.get("instanceId"),
    }


@bp.activity_trigger(input_name="payload")
def get_new_device_ids(payload: GetDeviceIdsRequest) -> DeviceIdsResult:
    """The devices waiting for provisioning, as named by the ``PENDING_DEVICE_IDS`` setting."""
    settings = load_settings()
    device_ids = list(settings.pending_device_ids)
    if len(device_ids) > settings.max_devices_per_run:
        # Provision what one run may handle; the rest stays pending for the next run.
        _log.warning(
            "%d pending devices configured; this run takes the first %d",
            len(device_ids),
            settings.max_devices_per_run,
            parent_instance_id=payload.get("parentInstanceId"),
        )
        device_ids = device_ids[: settings.max_devices_per_run]
    _log.info(
        "found %d pending devices",
        len(device_ids),
        parent_instance_id=payload.get("parentInstanceId"),
    )
    return {"deviceIds": device_ids}


def _build(kind: PackageKind, request: BuildPackageRequest) -> PackageInfo:
    draft = build_package(
        kind,
        instance_id=request["instanceId"],
        parent_instance_id=request["parentInstanceId"],
        created_at=request["requestedAt"],
        subject=dict(request["subject"]),
    )
    stored = get_package_store().put(
        draft.container,
        draft.blob_name,
        draft.content,
        content_type="application/json",
        ttl_seconds=request["ttlSeconds"],
    )
    _log.info(
        "stored %s package %s (%d bytes, sha256 %s)",
        kind,
        # Without the query: a SAS is a bearer credential and does not belong in logs.
        redact_url(stored.url),
        stored.size_bytes,
        stored.sha256,
        **_ids(request),
    )
    return {
        "packageId": draft.package_id,
        "container": draft.container,
        "blobName": draft.blob_name,
        "url": stored.url,
        "sha256": stored.sha256,
        "sizeBytes": stored.size_bytes,
    }


@bp.activity_trigger(input_name="request")
def build_customer_profile_export(request: BuildPackageRequest) -> PackageInfo:
    """Step 1 of the customer sync: export the customer profile as a package."""
    return _build("customer-profile-export", request)


@bp.activity_trigger(input_name="request")
def build_inventory_snapshot(request: BuildPackageRequest) -> PackageInfo:
    """Step 1 of the inventory sync: snapshot the requested SKUs as a package."""
    return _build("inventory-snapshot", request)


@bp.activity_trigger(input_name="request")
def build_device_installation_package(request: BuildPackageRequest) -> PackageInfo:
    """Step 1 of device provisioning: the device's installation package."""
    return _build("device-installation", request)


def _ack_url(request: SendPackageRequest) -> str:
    """The child's signed ack link (same key and deadline: the same link on every retry)."""
    deadline = datetime.fromisoformat(request["ackDeadline"].replace("Z", "+00:00"))
    token = sign_token(
        load_ack_keys().current, request["instanceId"], request["eventName"], deadline
    )
    return ack_url(ack_base_url(request.get("ackBaseUrl")), token)


def _send(request: SendPackageRequest) -> DeliveryReceipt:
    notification = ConsumerNotification(
        consumer=request["consumer"],
        parent_instance_id=request["parentInstanceId"],
        instance_id=request["instanceId"],
        package_url=request["packageUrl"],
        sha256=request["sha256"],
        event_name=request["eventName"],
        ack_deadline=request["ackDeadline"],
        ack_url=_ack_url(request),
        subject=dict(request.get("subject") or {}),
    )
    return get_notifier().notify(notification)


@bp.activity_trigger(input_name="request")
def send_export_to_crm(request: SendPackageRequest) -> DeliveryReceipt:
    """Step 2 of the customer sync: tell the CRM where the export is."""
    return _send(request)


@bp.activity_trigger(input_name="request")
def send_snapshot_to_warehouse(request: SendPackageRequest) -> DeliveryReceipt:
    """Step 2 of the inventory sync: tell the warehouse system where the snapshot is."""
    return _send(request)


@bp.activity_trigger(input_name="request")
def send_package_to_device(request: SendPackageRequest) -> DeliveryReceipt:
    """Step 2 of device provisioning: tell the device where its package is."""
    return _send(request)


@bp.activity_trigger(input_name="request")
def record_package_outcome(request: RecordOutcomeRequest) -> OutcomeRecord:
    """Step 4 of every sub-orchestration: persist the outcome next to the packages."""
    document: dict[str, object] = dict(request)
    stored = get_package_store().put(
        OUTCOME_CONTAINER,
        blob_name_for(request["instanceId"]),
        build_outcome_record(document),
        content_type="application/json",
        # Outcome records are an audit trail, not a download: one week, like the ack maximum.
        ttl_seconds=604_800,
    )
    log = _log.warning if request["status"] != "completed" else _log.info
    log(
        "%s finished: %s%s",
        request["step"],
        request["status"],
        f" ({request['reason']})" if request["reason"] else "",
        **_ids(request),
    )
    return {
        "instanceId": request["instanceId"],
        "status": request["status"],
        "recordUrl": stored.url,
    }
