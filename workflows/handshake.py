"""The package handshake every sub-orchestrator performs: build the package, send its URL to
the consumer, wait for ``DownloadCompletedAck`` raced against a durable timer (sliced into
timers of at most ``TIMER_SLICE``), record the outcome. Generators the orchestrators in
``workflows.orchestrators`` delegate to with ``yield from``; deterministic, as they are.
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
    RECORD_OUTCOME,
    SEND_TO_CRM,
    SEND_TO_DEVICE,
    SEND_TO_WAREHOUSE,
    BuildPackageRequest,
    ChildStatus,
    PackageInfo,
    RecordOutcomeRequest,
    SendPackageRequest,
)
from workflows.settings import load_settings
from workflows.validation import (
    validate_ack_base_url,
    validate_ack_timeout,
)

# Logged under the orchestrators' name: these lines are theirs.
_log = get_logger("workflows.orchestrators")

Gen = Generator[Any, Any, Any]
JsonDict = dict[str, Any]

#: Longest single durable timer (Azure Storage's long-timer interval; well under its 6-day cap).
TIMER_SLICE = timedelta(days=3)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def retry_options() -> df.RetryOptions:
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
class Handshake:
    """One sub-orchestrator's handshake: its step name, its consumer, and the activities that
    build and send its package."""

    step: str
    consumer: str
    build_activity: str
    send_activity: str


CUSTOMER = Handshake("customer_sync", "crm", BUILD_CUSTOMER_EXPORT, SEND_TO_CRM)
INVENTORY = Handshake("inventory_sync", "warehouse", BUILD_INVENTORY_SNAPSHOT, SEND_TO_WAREHOUSE)
DEVICE = Handshake("device_provisioning", "device", BUILD_DEVICE_PACKAGE, SEND_TO_DEVICE)


def package_handshake(
    context: df.DurableOrchestrationContext,
    spec: Handshake,
    subject: JsonDict,
    ack_timeout_seconds: int,
    ack_base_url: str | None = None,
) -> Gen:
    instance_id: str = context.instance_id
    parent_id: str | None = context.parent_instance_id
    retry = retry_options()
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
            "requestedAt": iso(context.current_utc_datetime),
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
            "ackDeadline": iso(deadline),
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
                "ackDeadline": iso(deadline),
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
        "finishedAt": iso(context.current_utc_datetime),
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


def child_ack_timeout(data: JsonDict) -> int:
    return validate_ack_timeout(data.get("ackTimeoutSeconds", load_settings().ack_timeout_seconds))


def child_ack_base_url(data: JsonDict) -> str | None:
    value = data.get("ackBaseUrl")
    return None if value is None else validate_ack_base_url(value)


def child_input(context: df.DurableOrchestrationContext) -> JsonDict:
    data = context.get_input()
    if not isinstance(data, dict):
        raise ValueError("sub-orchestrator input must be a JSON object")
    return data
