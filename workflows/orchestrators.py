"""Orchestrator functions (blueprint ``bp``): the parent workflow and its sub-orchestrations.

* ``parent_workflow_orchestrator`` runs in ``sync`` mode (customer sync, then inventory sync)
  or ``devices`` mode (one ``device_provisioning_orchestrator`` per device, all in parallel).
* Each sub-orchestrator performs the same package handshake: build the package, send its URL
  to the consumer, wait for ``DownloadCompletedAck`` raced against a durable timer, record the
  outcome.

Orchestrators are deterministic generators replayed by the Durable runtime: they take time
from ``context.current_utc_datetime``, call other functions by their registered names, derive
child instance ids from their own id, and log only when not replaying. The function
signatures avoid ``from __future__ import annotations`` because the Python worker validates
annotations at load time.
"""

# The durable SDK ships without type information, so its decorators are untyped to mypy.
# mypy: allow-untyped-decorators

from collections.abc import Generator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import azure.durable_functions as df
from azure_functions_logging import get_logger

from workflows.ack import MAX_REASON_CHARS, evaluate_ack
from workflows.contracts import (
    ACK_EVENT,
    BUILD_CUSTOMER_EXPORT,
    BUILD_DEVICE_PACKAGE,
    BUILD_INVENTORY_SNAPSHOT,
    CUSTOMER_SYNC,
    DEVICE_PROVISIONING,
    GET_NEW_DEVICE_IDS,
    INVENTORY_SYNC,
    RECORD_OUTCOME,
    SEND_TO_CRM,
    SEND_TO_DEVICE,
    SEND_TO_WAREHOUSE,
    BuildPackageRequest,
    ChildStatus,
    DevicesInput,
    DevicesOutput,
    FailedDevice,
    PackageInfo,
    RecordOutcomeRequest,
    SendPackageRequest,
    SyncInput,
    SyncOutput,
    customer_sync_id,
    device_child_id,
    device_child_prefix,
    inventory_sync_id,
)
from workflows.settings import AppSettings, load_settings
from workflows.validation import (
    parse_parent_input,
    validate_ack_base_url,
    validate_ack_timeout,
    validate_device_ids,
    validate_id,
)

bp = df.Blueprint()
_log = get_logger(__name__)

#: Custom status is stored in a 16 KB slot on Azure Storage; 25 ids of up to ~140 characters
#: stay well inside it even for a 500-device run. The prefix lets a poller list the rest.
MAX_LISTED_CHILD_IDS = 25

#: Longest single durable timer (Azure Storage's long-timer interval; well under its 6-day cap).
TIMER_SLICE = timedelta(days=3)

Gen = Generator[Any, Any, Any]
JsonDict = dict[str, Any]


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _retry_options() -> df.RetryOptions:
    settings = load_settings()
    return df.RetryOptions(
        first_retry_interval_in_milliseconds=settings.activity_retry_first_interval_ms,
        max_number_of_attempts=settings.activity_retry_max_attempts,
    )


def failure_reason(error: BaseException) -> str:
    """A one-line reason from a failed task's exception.

    The SDK builds failed-task exceptions as ``f"{Reason} \\n {Details}"``; the reason part
    ("Activity function 'x' failed: ...") is what a person needs, the details are a stack.
    """
    text = str(error).split(" \n ", 1)[0].strip() or type(error).__name__
    return text if len(text) <= MAX_REASON_CHARS else text[:MAX_REASON_CHARS] + "..."


# ---- the package handshake shared by every sub-orchestrator ---------------------------------


@dataclass(frozen=True)
class _Handshake:
    step: str
    consumer: str
    build_activity: str
    send_activity: str


_CUSTOMER = _Handshake("customer_sync", "crm", BUILD_CUSTOMER_EXPORT, SEND_TO_CRM)
_INVENTORY = _Handshake("inventory_sync", "warehouse", BUILD_INVENTORY_SNAPSHOT, SEND_TO_WAREHOUSE)
_DEVICE = _Handshake("device_provisioning", "device", BUILD_DEVICE_PACKAGE, SEND_TO_DEVICE)


def _package_handshake(
    context: df.DurableOrchestrationContext,
    spec: _Handshake,
    subject: JsonDict,
    ack_timeout_seconds: int,
    ack_base_url: str | None = None,
) -> Gen:
    instance_id: str = context.instance_id
    parent_id: str | None = context.parent_instance_id
    retry = _retry_options()
    base_status: JsonDict = {"step": spec.step, "parentInstanceId": parent_id, **subject}

    status: ChildStatus
    reason: str | None = None
    verified = False
    package: PackageInfo | None = None
    receipt: JsonDict = {}

    context.set_custom_status({**base_status, "stage": "building_package"})
    try:
        build: BuildPackageRequest = {
            "parentInstanceId": parent_id,
            "instanceId": instance_id,
            "requestedAt": _iso(context.current_utc_datetime),
            "ttlSeconds": ack_timeout_seconds,
            "subject": subject,
        }
        package = cast(
            PackageInfo,
            (yield context.call_activity_with_retry(spec.build_activity, retry, build)),
        )
        # The deadline starts when the consumer is told, not when the child started.
        deadline = context.current_utc_datetime + timedelta(seconds=ack_timeout_seconds)
        context.set_custom_status(
            {**base_status, "stage": "sending_package", "packageUrl": package["url"]}
        )
        send: SendPackageRequest = {
            "parentInstanceId": parent_id,
            "instanceId": instance_id,
            "consumer": spec.consumer,
            "packageUrl": package["url"],
            "sha256": package["sha256"],
            "eventName": ACK_EVENT,
            "ackDeadline": _iso(deadline),
            "ackBaseUrl": ack_base_url,
            # A SKU list can be long; a queue message holds at most 64 KB.
            "subject": {k: v for k, v in subject.items() if k != "skus"},
        }
        sent = yield context.call_activity_with_retry(spec.send_activity, retry, send)
        receipt = sent if isinstance(sent, dict) else {}
    except Exception as error:  # a failed activity (after its retries) surfaces here
        status, reason = "failed", failure_reason(error)
    else:
        context.set_custom_status(
            {
                **base_status,
                "stage": "awaiting_ack",
                "eventName": ACK_EVENT,
                "packageUrl": package["url"],
                "sha256": package["sha256"],
                "ackDeadline": _iso(deadline),
                "ackTimeoutSeconds": ack_timeout_seconds,
                # For operators (custom status needs the system key): how the consumer was told
                # and the link it acks through.
                "notification": receipt.get("channel"),
                "notificationId": receipt.get("notificationId"),
                "ackUrl": receipt.get("ackUrl"),
            }
        )
        ack = context.wait_for_external_event(ACK_EVENT)
        acked = yield from _race_ack_against_deadline(context, ack, deadline)
        if acked:
            outcome = evaluate_ack(ack.result, package["sha256"])
            status, reason, verified = outcome.status, outcome.reason, outcome.digest_verified
        else:
            # An ack arriving after this point finds nobody waiting and is ignored.
            status = "timed_out"
            reason = f"no {ACK_EVENT} within {ack_timeout_seconds} s"

    context.set_custom_status({**base_status, "stage": "recording_outcome", "status": status})
    record: RecordOutcomeRequest = {
        "parentInstanceId": parent_id,
        "instanceId": instance_id,
        "step": spec.step,
        "status": status,
        "reason": reason,
        "packageUrl": package["url"] if package else None,
        "sha256": package["sha256"] if package else None,
        "finishedAt": _iso(context.current_utc_datetime),
    }
    try:
        yield context.call_activity_with_retry(RECORD_OUTCOME, retry, record)
    except Exception as error:
        # The outcome record is an audit copy in storage; the orchestration output below is
        # the authoritative result. When storage is down (the usual reason the build failed
        # too), failing the child here would replace the real reason with "record failed".
        if not context.is_replaying:
            _log.warning(
                "%s %s: outcome not recorded: %s",
                spec.step,
                instance_id,
                failure_reason(error),
                parent_instance_id=parent_id,
                instance_id=instance_id,
            )

    result: JsonDict = {
        "step": spec.step,
        "instanceId": instance_id,
        **subject,
        "status": status,
        "reason": reason,
        "packageUrl": package["url"] if package else None,
        "sha256": package["sha256"] if package else None,
        "digestVerified": verified,
    }
    context.set_custom_status({**base_status, "stage": "done", "status": status})
    if not context.is_replaying:
        _log.info(
            "%s %s: %s",
            spec.step,
            instance_id,
            status,
            parent_instance_id=parent_id,
            instance_id=instance_id,
        )
    return result


def _race_ack_against_deadline(
    context: df.DurableOrchestrationContext, ack: Any, deadline: datetime
) -> Gen:
    """Wait for ``ack`` until ``deadline``; True when the ack came first.

    The wait is cut into timers of at most ``TIMER_SLICE`` instead of one ``create_timer``
    for the whole window: beyond 6 days the SDK substitutes a long-timer task whose
    ``cancel()`` does not mark the timer slices it emits as cancelled, so the host would keep
    the finished instance Running until the last slice fired. Short timers cancel cleanly.
    """
    while True:
        slice_end = min(deadline, context.current_utc_datetime + TIMER_SLICE)
        timer = context.create_timer(slice_end)
        winner = yield context.task_any([ack, timer])
        if winner is ack:
            # Cancelled, the timer no longer keeps the instance open until it fires.
            if not timer.is_completed:
                timer.cancel()
            return True
        if slice_end >= deadline:
            return False


def _child_ack_timeout(data: JsonDict) -> int:
    return validate_ack_timeout(data.get("ackTimeoutSeconds", load_settings().ack_timeout_seconds))


def _child_ack_base_url(data: JsonDict) -> str | None:
    value = data.get("ackBaseUrl")
    return None if value is None else validate_ack_base_url(value)


def _child_input(context: df.DurableOrchestrationContext) -> JsonDict:
    data = context.get_input()
    if not isinstance(data, dict):
        raise ValueError("sub-orchestrator input must be a JSON object")
    return data


@bp.orchestration_trigger(context_name="context")
def customer_sync_sub_orchestrator(context: df.DurableOrchestrationContext) -> Gen:
    """Export the customer profile, hand it to the CRM, wait for the CRM's ack."""
    data = _child_input(context)
    subject: JsonDict = {
        "customerId": validate_id(data.get("customerId"), "customerId"),
        "segment": data.get("segment"),
    }
    if not isinstance(subject["segment"], str) or not subject["segment"]:
        raise ValueError("segment must be a non-empty string")
    return (
        yield from _package_handshake(
            context, _CUSTOMER, subject, _child_ack_timeout(data), _child_ack_base_url(data)
        )
    )


@bp.orchestration_trigger(context_name="context")
def inventory_sync_sub_orchestrator(context: df.DurableOrchestrationContext) -> Gen:
    """Snapshot the SKUs, hand the snapshot to the warehouse system, wait for its ack."""
    data = _child_input(context)
    raw_skus = data.get("skus")
    if not isinstance(raw_skus, list) or not raw_skus:
        raise ValueError("skus must be a non-empty array")
    skus = [validate_id(sku, f"skus[{i}]") for i, sku in enumerate(raw_skus)]
    subject: JsonDict = {"skuCount": len(skus), "skus": skus}
    return (
        yield from _package_handshake(
            context, _INVENTORY, subject, _child_ack_timeout(data), _child_ack_base_url(data)
        )
    )


@bp.orchestration_trigger(context_name="context")
def device_provisioning_orchestrator(context: df.DurableOrchestrationContext) -> Gen:
    """Build the device's installation package, send it the URL, wait for the device's ack."""
    data = _child_input(context)
    subject: JsonDict = {"deviceId": validate_id(data.get("deviceId"), "deviceId")}
    return (
        yield from _package_handshake(
            context, _DEVICE, subject, _child_ack_timeout(data), _child_ack_base_url(data)
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
            GET_NEW_DEVICE_IDS, _retry_options(), {"parentInstanceId": parent_id}
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
