"""Activities, called the way the host calls them (decoded JSON input in, JSON-able out)."""

from __future__ import annotations

import hashlib
import json
import logging
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.helpers.app_settings import TEST_ACK_BASE_URL
from tests.helpers.paths import PROJECT_ROOT
from workflows.ack_links import load_ack_keys, verify_token
from workflows.consumers import ConsumerNotification, notification_id_for, set_notifier
from workflows.contracts import ACK_EVENT, DeliveryReceipt
from workflows.package_store import InMemoryPackageStore
from workflows.settings import SettingsError

BUILD_REQUEST = {
    "parentInstanceId": "run-1",
    "instanceId": "run-1:device:dev-1",
    "requestedAt": "2024-05-01T12:00:05.000000Z",
    "ttlSeconds": 60,
    "subject": {"deviceId": "dev-1"},
}


def roundtrip(value: Any) -> Any:
    """What survives the activity output encoding (plain JSON)."""
    return json.loads(json.dumps(value))


def test_build_stores_the_package_and_returns_url_and_digest(
    user_function: Callable[[str], Any], store: InMemoryPackageStore
) -> None:
    result = roundtrip(user_function("build_device_installation_package")(BUILD_REQUEST))
    content = store.get("device-packages", "run-1/device/dev-1.json")
    assert content is not None
    assert result["url"] == "memory://packages/device-packages/run-1/device/dev-1.json"
    assert result["sha256"] == hashlib.sha256(content).hexdigest()
    assert result["sizeBytes"] == len(content)
    manifest = json.loads(content)
    assert manifest["instanceId"] == "run-1:device:dev-1"
    assert manifest["createdAt"] == BUILD_REQUEST["requestedAt"]


def test_build_is_idempotent(
    user_function: Callable[[str], Any], store: InMemoryPackageStore
) -> None:
    build = user_function("build_customer_profile_export")
    request = {**BUILD_REQUEST, "subject": {"customerId": "cust-1", "segment": "smb"}}
    assert build(request) == build(request)


def test_send_hands_the_notification_to_the_notifier(user_function: Callable[[str], Any]) -> None:
    seen: list[ConsumerNotification] = []

    class Recorder:
        def notify(self, notification: ConsumerNotification) -> DeliveryReceipt:
            seen.append(notification)
            return {
                "consumer": notification.consumer,
                "instanceId": notification.instance_id,
                "packageUrl": notification.package_url,
                "channel": "test",
                "notificationId": "n-1",
                "messageId": "",
                "ackUrl": notification.ack_url,
            }

    set_notifier(Recorder())
    try:
        receipt = user_function("send_package_to_device")(
            {
                "parentInstanceId": "run-1",
                "instanceId": "run-1:device:dev-1",
                "consumer": "device",
                "packageUrl": "memory://p",
                "sha256": "ab" * 32,
                "eventName": "DownloadCompletedAck",
                "ackDeadline": "2024-05-01T12:01:05.000000Z",
                "ackBaseUrl": None,
                "subject": {"deviceId": "dev-1"},
            }
        )
    finally:
        set_notifier(None)
    assert receipt["channel"] == "test"
    [notification] = seen
    assert notification.event_name == "DownloadCompletedAck"
    assert notification.parent_instance_id == "run-1"
    assert notification.subject == {"deviceId": "dev-1"}
    # The link is signed for this child, this event and this deadline, on ACK_BASE_URL.
    prefix = f"{TEST_ACK_BASE_URL}/acks/"
    assert notification.ack_url.startswith(prefix)
    claim = verify_token(load_ack_keys(), notification.ack_url[len(prefix) :], ACK_EVENT)
    assert claim.instance_id == "run-1:device:dev-1"
    assert claim.event_name == "DownloadCompletedAck"
    assert claim.deadline == datetime(2024, 5, 1, 12, 1, 5, tzinfo=UTC)
    assert receipt["ackUrl"] == notification.ack_url


def test_log_notifier_returns_a_receipt_and_logs_no_secret(
    user_function: Callable[[str], Any], caplog: pytest.LogCaptureFixture
) -> None:
    request = {
        "parentInstanceId": "run-1",
        "instanceId": "run-1:customer-sync",
        "consumer": "crm",
        "packageUrl": "http://127.0.0.1:10000/a/customer-exports/x.json?sv=1&sig=SECRET",
        "sha256": "ab" * 32,
        "eventName": "DownloadCompletedAck",
        "ackDeadline": "2024-05-01T12:01:05.000000Z",
        "ackBaseUrl": None,
        "subject": {"customerId": "cust-1"},
    }
    with caplog.at_level(logging.INFO):
        receipt = user_function("send_export_to_crm")(request)
        again = user_function("send_export_to_crm")(request)
    token = receipt["ackUrl"].rsplit("/", 1)[1]
    assert receipt["channel"] == "log"
    assert receipt["ackUrl"] == f"{TEST_ACK_BASE_URL}/acks/{token}"
    assert again == receipt  # a retried send says exactly the same thing
    assert receipt["notificationId"] == notification_id_for("run-1:customer-sync", "ab" * 32)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "customer-exports/x.json" in logged
    assert "sig=" not in logged and "SECRET" not in logged and token not in logged


def test_send_without_a_signing_key_fails_naming_the_setting(
    user_function: Callable[[str], Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ACK_SIGNING_KEY")
    with pytest.raises(SettingsError, match="ACK_SIGNING_KEY: is not set"):
        user_function("send_package_to_device")(
            {
                "parentInstanceId": "run-1",
                "instanceId": "run-1:device:d",
                "consumer": "device",
                "packageUrl": "memory://p",
                "sha256": "ab" * 32,
                "eventName": "DownloadCompletedAck",
                "ackDeadline": "2024-05-01T12:01:05.000000Z",
                "ackBaseUrl": None,
                "subject": {},
            }
        )


def test_record_outcome_writes_an_outcome_record(
    user_function: Callable[[str], Any], store: InMemoryPackageStore
) -> None:
    request = {
        "parentInstanceId": "run-1",
        "instanceId": "run-1:inventory-sync",
        "step": "inventory_sync",
        "status": "rejected",
        "reason": "sha256 mismatch",
        "packageUrl": "memory://p",
        "sha256": "ab" * 32,
        "finishedAt": "2024-05-01T12:02:00.000000Z",
    }
    record = user_function("record_package_outcome")(request)
    assert record["status"] == "rejected"
    stored = store.get("package-outcomes", "run-1/inventory-sync.json")
    assert stored is not None and json.loads(stored) == request


def test_get_new_device_ids_reads_configuration(
    user_function: Callable[[str], Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PENDING_DEVICE_IDS", "dev-1,dev-2,dev-3")
    monkeypatch.setenv("MAX_DEVICES_PER_RUN", "2")
    result = user_function("get_new_device_ids")({"parentInstanceId": "run-1"})
    assert result == {"deviceIds": ["dev-1", "dev-2"]}


def test_get_new_device_ids_default_is_empty(user_function: Callable[[str], Any]) -> None:
    assert user_function("get_new_device_ids")({"parentInstanceId": "run-1"}) == {"deviceIds": []}


def test_the_app_registers_the_contract_names(functions: dict[str, Any]) -> None:
    kinds = {name: f.get_trigger().type for name, f in functions.items()}
    assert {n for n, k in kinds.items() if k == "orchestrationTrigger"} == {
        "parent_workflow_orchestrator",
        "customer_sync_sub_orchestrator",
        "inventory_sync_sub_orchestrator",
        "device_provisioning_orchestrator",
    }
    assert kinds["get_new_device_ids"] == "activityTrigger"
    routes = {
        b["route"]: b["authLevel"]
        for f in functions.values()
        for b in f.get_bindings_dict()["bindings"]
        if b["type"] == "httpTrigger"
    }
    assert {r: str(level.value) for r, level in routes.items()} == {
        "start-sub-orchestration": "function",
        "provision-devices": "function",
        "runs/{instanceId}/cancel": "function",
        # Devices hold no key of the app: the signed token in the path is the credential.
        "acks/{token}": "anonymous",
    }


def test_the_app_never_imports_the_local_runtime() -> None:
    # A fresh interpreter: other test modules may have imported durable_local in this one.
    probe = (
        "import sys, function_app; "
        "print([m for m in sys.modules if m.split('.')[0] == 'durable_local'])"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"
