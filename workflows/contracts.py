"""Names and payload shapes shared by starters, orchestrators and activities.

Function and event names are a contract with callers (HTTP clients, pollers, the devices that
raise the ack), so they live here once. Payloads crossing the JSON boundary between functions
are TypedDicts: the durable runtime serialises them as plain JSON.
"""

from __future__ import annotations

from typing import Literal, NotRequired, TypedDict

# Orchestrators (registered under their Python function names).
PARENT_WORKFLOW = "parent_workflow_orchestrator"
CUSTOMER_SYNC = "customer_sync_sub_orchestrator"
INVENTORY_SYNC = "inventory_sync_sub_orchestrator"
DEVICE_PROVISIONING = "device_provisioning_orchestrator"

# Activities.
GET_NEW_DEVICE_IDS = "get_new_device_ids"
BUILD_CUSTOMER_EXPORT = "build_customer_profile_export"
BUILD_INVENTORY_SNAPSHOT = "build_inventory_snapshot"
BUILD_DEVICE_PACKAGE = "build_device_installation_package"
SEND_TO_CRM = "send_export_to_crm"
SEND_TO_WAREHOUSE = "send_snapshot_to_warehouse"
SEND_TO_DEVICE = "send_package_to_device"
RECORD_OUTCOME = "record_package_outcome"

#: The external event every sub-orchestrator waits for.
ACK_EVENT = "DownloadCompletedAck"

DEFAULT_CUSTOMER_ID = "cust-1001"
DEFAULT_CUSTOMER_SEGMENT = "enterprise"
DEFAULT_SKUS: tuple[str, ...] = ("SKU-100", "SKU-200")

Mode = Literal["sync", "devices"]
ChildStatus = Literal["completed", "rejected", "timed_out", "failed", "terminated"]
RunStatus = Literal["completed", "completed_with_errors"]


def customer_sync_id(parent_id: str) -> str:
    """Child id of the customer sync: derived from the parent so replays reuse it."""
    return f"{parent_id}:customer-sync"


def inventory_sync_id(parent_id: str) -> str:
    """Child id of the inventory sync."""
    return f"{parent_id}:inventory-sync"


def device_child_prefix(parent_id: str) -> str:
    """Common prefix of a parent's device children (list them with instanceIdPrefix)."""
    return f"{parent_id}:device:"


def device_child_id(parent_id: str, device_id: str) -> str:
    """Child id of one device's provisioning orchestration."""
    return f"{device_child_prefix(parent_id)}{device_id}"


# ---- orchestrator inputs ------------------------------------------------------------------


class SyncInput(TypedDict):
    """Input of ``parent_workflow_orchestrator`` in sync mode."""

    mode: Literal["sync"]
    customerId: str
    customerSegment: str
    skus: list[str]
    ackTimeoutSeconds: int
    #: Where the starter was called (``http(s)://host/api``): the ack links' base when neither
    #: ``ACK_BASE_URL`` nor ``WEBSITE_HOSTNAME`` is set.
    ackBaseUrl: NotRequired[str]


class DevicesInput(TypedDict):
    """Input of ``parent_workflow_orchestrator`` in devices mode (no ids: use configuration)."""

    mode: Literal["devices"]
    deviceIds: NotRequired[list[str]]
    ackTimeoutSeconds: int
    ackBaseUrl: NotRequired[str]


ParentInput = SyncInput | DevicesInput


class CustomerSyncInput(TypedDict):
    customerId: str
    segment: str
    ackTimeoutSeconds: int


class InventorySyncInput(TypedDict):
    skus: list[str]
    ackTimeoutSeconds: int


class DeviceProvisioningInput(TypedDict):
    deviceId: str
    ackTimeoutSeconds: int


# ---- activity payloads ----------------------------------------------------------------------


class BuildPackageRequest(TypedDict):
    """Input of the three ``build_*`` activities."""

    parentInstanceId: str | None
    instanceId: str
    #: The orchestration's replay-safe clock, so a re-run builds byte-identical content.
    requestedAt: str
    ttlSeconds: int
    subject: dict[str, object]


class PackageInfo(TypedDict):
    """Result of a ``build_*`` activity: where the package is and how to verify it."""

    packageId: str
    container: str
    blobName: str
    url: str
    sha256: str
    sizeBytes: int


class SendPackageRequest(TypedDict):
    """Input of the three ``send_*`` activities."""

    parentInstanceId: str | None
    instanceId: str
    consumer: str
    packageUrl: str
    sha256: str
    eventName: str
    ackDeadline: str
    #: The request base the ack link falls back to (see ``ParentInput.ackBaseUrl``).
    ackBaseUrl: str | None
    #: What the package is about, as the consumer sees it (``deviceId``, ``customerId``, ...).
    subject: dict[str, object]


class DeliveryReceipt(TypedDict):
    consumer: str
    instanceId: str
    packageUrl: str
    #: ``queue:<name>`` or ``log``.
    channel: str
    notificationId: str
    #: The queue service's id of the message (empty for ``log``).
    messageId: str
    ackUrl: str


class RecordOutcomeRequest(TypedDict):
    parentInstanceId: str | None
    instanceId: str
    step: str
    status: ChildStatus
    reason: str | None
    packageUrl: str | None
    sha256: str | None
    finishedAt: str


class OutcomeRecord(TypedDict):
    instanceId: str
    status: ChildStatus
    recordUrl: str


class GetDeviceIdsRequest(TypedDict):
    parentInstanceId: str


class DeviceIdsResult(TypedDict):
    """Result of ``get_new_device_ids`` (an object, so the worker sees a class annotation)."""

    deviceIds: list[str]


# ---- orchestrator outputs -------------------------------------------------------------------


class ChildResult(TypedDict):
    """Output of a sub-orchestrator (plus its step-specific fields, e.g. ``customerId``)."""

    step: str
    instanceId: str
    status: ChildStatus
    reason: str | None
    packageUrl: str | None
    sha256: str | None
    digestVerified: bool


class FailedDevice(TypedDict):
    deviceId: str
    status: str
    reason: str | None


class SyncOutput(TypedDict):
    instanceId: str
    mode: Literal["sync"]
    customer: dict[str, object]
    inventory: dict[str, object]
    status: RunStatus


class DevicesOutput(TypedDict):
    instanceId: str
    mode: Literal["devices"]
    total: int
    succeeded: list[str]
    failed: list[FailedDevice]
    devices: dict[str, dict[str, object]]
    status: RunStatus
