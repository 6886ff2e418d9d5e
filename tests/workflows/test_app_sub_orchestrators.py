"""The package handshake of the sub-orchestrators, driven through the SDK's replay engine."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from durable_local.testing import ActionType, HistoryBuilder, ReplayResult, iso, replay
from workflows.contracts import ACK_EVENT

DEVICE = "device_provisioning_orchestrator"
CUSTOMER = "customer_sync_sub_orchestrator"
INVENTORY = "inventory_sync_sub_orchestrator"
PARENT_ID = "run-1"
CHILD_ID = "run-1:device:dev-1"
TIMEOUT = 60
DIGEST = "ab" * 32
PACKAGE = {
    "packageId": "4b0d1f9e-0000-5000-8000-000000000001",
    "container": "device-packages",
    "blobName": "run-1/device/dev-1.json",
    "url": "memory://packages/device-packages/run-1/device/dev-1.json",
    "sha256": DIGEST,
    "sizeBytes": 321,
}
ACK_URL = "http://localhost:7071/api/acks/dG9rZW4.c2ln"
RECEIPT = {
    "consumer": "device",
    "instanceId": CHILD_ID,
    "packageUrl": PACKAGE["url"],
    "channel": "queue:device-notifications",
    "notificationId": "5d0f3a1e-0000-5000-8000-000000000002",
    "messageId": "m-1",
    "ackUrl": ACK_URL,
}

Handle = Callable[[str], str]


@pytest.fixture
def device(user_function: Callable[[str], Any]) -> Handle:
    handle: Handle = user_function(DEVICE)
    return handle


def device_history(timeout: int = TIMEOUT) -> HistoryBuilder:
    return HistoryBuilder(
        DEVICE,
        instance_id=CHILD_ID,
        input={"deviceId": "dev-1", "ackTimeoutSeconds": timeout},
        parent_instance_id=PARENT_ID,
    )


def awaiting_ack(timeout: int = TIMEOUT) -> tuple[HistoryBuilder, Any]:
    """History of a device child that built and sent its package and now waits for the ack."""
    h = device_history(timeout)
    h.task_scheduled(0, "build_device_installation_package").orchestrator_completed()
    h.orchestrator_started().task_completed(0, PACKAGE)
    # The deadline counts from the episode in which the package became available.
    fire_at = h.now + timedelta(seconds=timeout)
    h.task_scheduled(1, "send_package_to_device").orchestrator_completed()
    h.orchestrator_started().task_completed(1, RECEIPT)
    h.timer_created(2, fire_at).orchestrator_completed()
    return h, fire_at


def record_input(outcome: ReplayResult) -> dict[str, Any]:
    """Input of the record_package_outcome call (the last scheduled activity)."""
    action = outcome.leaves()[-1]
    assert action["functionName"] == "record_package_outcome"
    recorded: dict[str, Any] = json.loads(action["input"])
    return recorded


def ack_json(payload: Any) -> str:
    """EventRaised.Input as stored for an ack raised through the public HTTP API."""
    return json.dumps(payload)


def test_first_episode_builds_the_package_with_retry(device: Handle) -> None:
    outcome = replay(device, device_history())
    assert not outcome.done
    [wrapper] = outcome.actions
    assert wrapper["actionType"] == ActionType.WHEN_ALL  # how the SDK wraps a retried call
    [call] = wrapper["compoundActions"]
    assert call["actionType"] == ActionType.CALL_ACTIVITY_WITH_RETRY
    assert call["functionName"] == "build_device_installation_package"
    assert call["retryOptions"] == {
        "firstRetryIntervalInMilliseconds": 5000,
        "maxNumberOfAttempts": 3,
    }
    assert json.loads(call["input"]) == {
        "parentInstanceId": PARENT_ID,
        "instanceId": CHILD_ID,
        "requestedAt": "2024-05-01T12:00:00.000000Z",
        "ttlSeconds": TIMEOUT,
        "subject": {"deviceId": "dev-1"},
    }
    assert outcome.custom_status["stage"] == "building_package"


def test_retry_settings_come_from_app_settings(
    device: Handle, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACTIVITY_RETRY_MAX_ATTEMPTS", "5")
    monkeypatch.setenv("ACTIVITY_RETRY_FIRST_INTERVAL_MS", "250")
    [call] = replay(device, device_history()).leaves()
    assert call["retryOptions"] == {
        "firstRetryIntervalInMilliseconds": 250,
        "maxNumberOfAttempts": 5,
    }


def test_waits_for_the_ack_raced_against_a_timer(device: Handle) -> None:
    h, fire_at = awaiting_ack()
    outcome = replay(device, h)
    assert not outcome.done
    race = outcome.actions[-1]
    assert race["actionType"] == ActionType.WHEN_ANY
    event, timer = race["compoundActions"]
    assert event == {
        "actionType": ActionType.WAIT_FOR_EXTERNAL_EVENT,
        "externalEventName": ACK_EVENT,
        "reason": "ExternalEvent",
    }
    assert timer["actionType"] == ActionType.CREATE_TIMER
    assert timer["fireAt"] == iso(fire_at)
    assert timer["isCanceled"] is False
    status = outcome.custom_status
    assert status["stage"] == "awaiting_ack"
    assert status["eventName"] == ACK_EVENT
    assert status["packageUrl"] == PACKAGE["url"]
    assert status["sha256"] == DIGEST
    assert status["ackDeadline"] == iso(fire_at)
    # For operators: how the consumer was told, and the signed link it acks through.
    assert status["notification"] == "queue:device-notifications"
    assert status["notificationId"] == RECEIPT["notificationId"]
    assert status["ackUrl"] == ACK_URL


def test_the_send_activity_gets_the_deadline_the_link_base_and_the_subject(
    user_function: Callable[[str], Any],
) -> None:
    h = HistoryBuilder(
        INVENTORY,
        {"skus": ["A-1", "B-2"], "ackTimeoutSeconds": 30, "ackBaseUrl": "http://h:1/api"},
        instance_id="run-1:inventory-sync",
        parent_instance_id=PARENT_ID,
    )
    h.task_scheduled(0, "build_inventory_snapshot").orchestrator_completed()
    h.orchestrator_started().task_completed(0, PACKAGE)
    send = replay(user_function(INVENTORY), h).leaves()[-1]
    assert send["functionName"] == "send_snapshot_to_warehouse"
    assert json.loads(send["input"]) == {
        "parentInstanceId": PARENT_ID,
        "instanceId": "run-1:inventory-sync",
        "consumer": "warehouse",
        "packageUrl": PACKAGE["url"],
        "sha256": DIGEST,
        "eventName": ACK_EVENT,
        "ackDeadline": iso(h.now + timedelta(seconds=30)),
        "ackBaseUrl": "http://h:1/api",
        # No SKU list: a queue message holds at most 64 KB.
        "subject": {"skuCount": 2},
    }


def finish_with_ack(device: Handle, input_json: str) -> tuple[ReplayResult, ReplayResult]:
    """Deliver an ack, then complete the record activity; return both episodes' outcomes."""
    h, _ = awaiting_ack()
    h.orchestrator_started().event_raised(ACK_EVENT, input_json)
    recording = replay(device, h)
    h.task_scheduled(3, "record_package_outcome").orchestrator_completed()
    h.orchestrator_started().task_completed(
        3, {"instanceId": CHILD_ID, "status": "x", "recordUrl": "memory://r"}
    )
    return recording, replay(device, h)


def test_ack_ok_with_matching_digest_completes_and_cancels_the_timer(device: Handle) -> None:
    recording, final = finish_with_ack(device, ack_json({"ok": True, "sha256": DIGEST.upper()}))
    timer = next(a for a in recording.leaves() if a["actionType"] == ActionType.CREATE_TIMER)
    assert timer["isCanceled"] is True
    assert record_input(recording)["status"] == "completed"
    assert recording.custom_status["stage"] == "recording_outcome"
    assert final.done
    assert final.output == {
        "step": "device_provisioning",
        "instanceId": CHILD_ID,
        "deviceId": "dev-1",
        "status": "completed",
        "reason": None,
        "packageUrl": PACKAGE["url"],
        "sha256": DIGEST,
        "digestVerified": True,
    }
    assert final.custom_status["stage"] == "done"


def test_ack_with_wrong_digest_is_rejected(device: Handle) -> None:
    _, final = finish_with_ack(device, ack_json({"ok": True, "sha256": "cd" * 32}))
    assert final.output["status"] == "rejected"
    assert "sha256 mismatch" in final.output["reason"]
    assert final.output["digestVerified"] is False


def test_bare_false_ack_is_rejected(device: Handle) -> None:
    _, final = finish_with_ack(device, "false")
    assert final.output["status"] == "rejected"
    assert final.output["reason"] == "consumer reported failure"


def test_not_ok_ack_carries_the_consumers_reason(device: Handle) -> None:
    _, final = finish_with_ack(device, ack_json({"ok": False, "reason": "disk full"}))
    assert (final.output["status"], final.output["reason"]) == ("rejected", "disk full")


def test_double_encoded_ack_from_the_sdk_client_is_understood(device: Handle) -> None:
    # client.raise_event(id, name, {"ok": True, ...}) is stored as a JSON *string* holding the
    # object's JSON text, so the orchestrator receives a str.
    stored = json.dumps(json.dumps({"ok": True, "sha256": DIGEST}))
    recording, final = finish_with_ack(device, stored)
    assert record_input(recording)["status"] == "completed"
    assert final.output["status"] == "completed"
    assert final.output["digestVerified"] is True


def test_bare_true_ack_completes_without_digest_verification(device: Handle) -> None:
    _, final = finish_with_ack(device, "true")
    assert final.output["status"] == "completed"
    assert final.output["digestVerified"] is False


def test_timeout_when_the_timer_wins_and_a_late_ack_is_ignored(device: Handle) -> None:
    h, fire_at = awaiting_ack()
    h.orchestrator_started(advance=timedelta(seconds=TIMEOUT)).timer_fired(2, fire_at)
    recording = replay(device, h)
    assert record_input(recording)["status"] == "timed_out"
    h.task_scheduled(3, "record_package_outcome").orchestrator_completed()
    # The ack arrives after the timeout, in the same episode as the record result.
    h.orchestrator_started().event_raised(ACK_EVENT, ack_json({"ok": True, "sha256": DIGEST}))
    h.task_completed(3, {"instanceId": CHILD_ID, "status": "timed_out", "recordUrl": "m://r"})
    final = replay(device, h)
    assert final.done
    assert final.output["status"] == "timed_out"
    assert final.output["reason"] == f"no {ACK_EVENT} within {TIMEOUT} s"
    # Nothing new was scheduled because of the late ack.
    assert final.leaves() == recording.leaves()


def test_activity_retry_then_success(device: Handle) -> None:
    h = device_history()
    h.task_scheduled(0, "build_device_installation_package").orchestrator_completed()
    h.orchestrator_started().task_failed(0, "Activity function 'build' failed:  OSError: blip")
    retry_at = h.now + timedelta(milliseconds=5000)
    h.timer_created(1, retry_at).orchestrator_completed()
    h.orchestrator_started(advance=timedelta(seconds=5)).timer_fired(1, retry_at)
    h.task_scheduled(2, "build_device_installation_package").orchestrator_completed()
    h.orchestrator_started().task_completed(2, PACKAGE)
    outcome = replay(device, h)
    assert not outcome.done
    names = [a.get("functionName") for a in outcome.leaves()]
    assert names == ["build_device_installation_package", "send_package_to_device"]
    assert outcome.custom_status["stage"] == "sending_package"
    send = json.loads(outcome.leaves()[-1]["input"])
    assert send["packageUrl"] == PACKAGE["url"]
    assert send["eventName"] == ACK_EVENT


def test_activity_failing_every_attempt_reports_failed(
    device: Handle, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACTIVITY_RETRY_MAX_ATTEMPTS", "2")
    reason = "Activity function 'build_device_installation_package' failed:  OSError: gone"
    h = device_history()
    h.task_scheduled(0, "build_device_installation_package").orchestrator_completed()
    h.orchestrator_started().task_failed(0, reason, "stack")
    h.timer_created(1, h.now + timedelta(seconds=5)).orchestrator_completed()
    h.orchestrator_started(advance=timedelta(seconds=5)).timer_fired(1, h.now)
    h.task_scheduled(2, "build_device_installation_package").orchestrator_completed()
    h.orchestrator_started().task_failed(2, reason, "stack")
    # After the last attempt DTFx still creates (and fires) one immediate timer.
    h.timer_created(3, h.now).orchestrator_completed()
    h.orchestrator_started().timer_fired(3, h.now)
    outcome = replay(device, h)
    recorded = record_input(outcome)
    assert recorded["status"] == "failed"
    assert recorded["reason"] == reason
    assert recorded["packageUrl"] is None
    h.task_scheduled(4, "record_package_outcome").orchestrator_completed()
    h.orchestrator_started().task_completed(4, {"instanceId": CHILD_ID})
    final = replay(device, h)
    assert final.done
    assert (final.output["status"], final.output["reason"]) == ("failed", reason)


def test_replaying_the_final_history_reproduces_the_same_actions(device: Handle) -> None:
    h, _ = awaiting_ack()
    h.orchestrator_started().event_raised(ACK_EVENT, ack_json({"ok": True, "sha256": DIGEST}))
    h.task_scheduled(3, "record_package_outcome").orchestrator_completed()
    h.orchestrator_started().task_completed(3, {"instanceId": CHILD_ID})
    first, second = replay(device, h), replay(device, h)
    assert first.state == second.state
    assert first.done
    # The replayed actions line up with what the history says was scheduled, id by id: this
    # is the check the host's non-determinism detection performs.
    kinds = {ActionType.CALL_ACTIVITY_WITH_RETRY: "activity", ActionType.CREATE_TIMER: "timer"}
    replayed = [
        (kinds[ActionType(a["actionType"])], a.get("functionName"))
        for a in first.leaves()
        if a["actionType"] in kinds
    ]
    assert replayed == [(kind, name) for kind, _, name in h.scheduled()]


@pytest.mark.parametrize(
    ("name", "child_input", "build", "send", "subject"),
    [
        (
            CUSTOMER,
            {"customerId": "cust-1001", "segment": "enterprise", "ackTimeoutSeconds": 30},
            "build_customer_profile_export",
            "send_export_to_crm",
            {"customerId": "cust-1001", "segment": "enterprise"},
        ),
        (
            INVENTORY,
            {"skus": ["SKU-100", "SKU-200"], "ackTimeoutSeconds": 30},
            "build_inventory_snapshot",
            "send_snapshot_to_warehouse",
            {"skuCount": 2, "skus": ["SKU-100", "SKU-200"]},
        ),
    ],
)
def test_sync_children_share_the_handshake(
    user_function: Callable[[str], Any],
    name: str,
    child_input: dict[str, Any],
    build: str,
    send: str,
    subject: dict[str, Any],
) -> None:
    handle = user_function(name)
    child_id = f"{PARENT_ID}:{'customer' if name == CUSTOMER else 'inventory'}-sync"
    h = HistoryBuilder(name, child_input, instance_id=child_id, parent_instance_id=PARENT_ID)
    [call] = replay(handle, h).leaves()
    assert call["functionName"] == build
    assert json.loads(call["input"])["subject"] == subject
    h.task_scheduled(0, build).orchestrator_completed()
    h.orchestrator_started().task_completed(0, {**PACKAGE, "url": "memory://x"})
    h.task_scheduled(1, send).orchestrator_completed()
    h.orchestrator_started().task_completed(1, RECEIPT)
    h.timer_created(2, h.now + timedelta(seconds=30)).orchestrator_completed()
    h.orchestrator_started().event_raised(ACK_EVENT, ack_json({"ok": True, "sha256": DIGEST}))
    h.task_scheduled(3, "record_package_outcome").orchestrator_completed()
    h.orchestrator_started().task_completed(3, {"instanceId": child_id})
    final = replay(handle, h)
    assert final.done
    assert final.output["status"] == "completed"
    assert final.output["step"] == name.replace("_sub_orchestrator", "")
    for key, value in subject.items():
        assert final.output[key] == value


def test_invalid_child_input_fails_the_child(device: Handle) -> None:
    h = HistoryBuilder(
        DEVICE, instance_id=CHILD_ID, input={"deviceId": "bad id!", "ackTimeoutSeconds": 5}
    )
    outcome = replay(device, h)
    assert outcome.error is not None
    assert "deviceId" in outcome.error


def test_a_week_long_ack_window_uses_long_timer_slices_and_the_ack_cancels_it(
    device: Handle,
) -> None:
    week = 604_800
    h = device_history(week)
    h.task_scheduled(0, "build_device_installation_package").orchestrator_completed()
    h.orchestrator_started().task_completed(0, PACKAGE)
    h.task_scheduled(1, "send_package_to_device").orchestrator_completed()
    h.orchestrator_started().task_completed(1, RECEIPT)
    # Beyond maximumShortTimerDuration (6 days) the SDK waits in 3-day slices from "now".
    first_slice = h.now + timedelta(days=3)
    waiting = replay(device, h)
    timers = [a for a in waiting.leaves() if a["actionType"] == ActionType.CREATE_TIMER]
    assert [t["fireAt"] for t in timers] == [iso(first_slice)]
    assert waiting.custom_status["ackTimeoutSeconds"] == week
    h.timer_created(2, first_slice).orchestrator_completed()
    h.orchestrator_started().event_raised(ACK_EVENT, ack_json({"ok": True, "sha256": DIGEST}))
    recording = replay(device, h)
    timers = [a for a in recording.leaves() if a["actionType"] == ActionType.CREATE_TIMER]
    assert all(t["isCanceled"] for t in timers)
    assert record_input(recording)["status"] == "completed"


def test_a_week_long_ack_window_times_out_after_its_last_slice(device: Handle) -> None:
    week = 604_800
    h = device_history(week)
    h.task_scheduled(0, "build_device_installation_package").orchestrator_completed()
    h.orchestrator_started().task_completed(0, PACKAGE)
    deadline = h.now + timedelta(seconds=week)
    h.task_scheduled(1, "send_package_to_device").orchestrator_completed()
    h.orchestrator_started().task_completed(1, RECEIPT)
    slices = [h.now + timedelta(days=3), h.now + timedelta(days=6), deadline]
    timer_id = 2
    for index, fire_at in enumerate(slices):
        h.timer_created(timer_id, fire_at).orchestrator_completed()
        h.orchestrator_started(advance=fire_at - h.now).timer_fired(timer_id, fire_at)
        outcome = replay(device, h)
        timers = [
            a["fireAt"] for a in outcome.leaves() if a["actionType"] == ActionType.CREATE_TIMER
        ]
        if index < len(slices) - 1:
            # A slice fired before the deadline: keep waiting with the next slice.
            assert timers == [iso(s) for s in slices[: index + 2]]
            assert outcome.custom_status["stage"] == "awaiting_ack"
        else:
            assert record_input(outcome)["status"] == "timed_out"
        timer_id += 1
