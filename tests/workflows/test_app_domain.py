"""Pure logic: ack evaluation, request validation, settings, package content and the store."""

from __future__ import annotations

import hashlib
import json

import azure.functions as func
import pytest

from workflows.ack import evaluate_ack
from workflows.http_json import request_base_url
from workflows.package_store import InMemoryPackageStore
from workflows.packages import blob_name_for, build_package, package_id_for
from workflows.settings import SettingsError, load_settings
from workflows.validation import (
    ValidationError,
    parse_devices_request,
    parse_parent_input,
    parse_sync_request,
    validate_instance_id,
)

DIGEST = "0123456789abcdef" * 4

# ---- ack evaluation -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        {"ok": True, "sha256": DIGEST},
        {"ok": True, "sha256": DIGEST.upper()},
        json.dumps({"ok": True, "sha256": DIGEST}),
        json.dumps(json.dumps({"ok": True, "sha256": DIGEST})),
    ],
)
def test_ack_ok_with_matching_digest(payload: object) -> None:
    outcome = evaluate_ack(payload, DIGEST)
    assert (outcome.status, outcome.reason, outcome.digest_verified) == ("completed", None, True)


@pytest.mark.parametrize("payload", [True, "true", {"ok": True}, '{"ok": true}'])
def test_ack_ok_without_digest_completes_unverified(payload: object) -> None:
    outcome = evaluate_ack(payload, DIGEST)
    assert (outcome.status, outcome.digest_verified) == ("completed", False)


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (False, "consumer reported failure"),
        ("false", "consumer reported failure"),
        ({"ok": False}, "consumer reported failure"),
        ({"ok": False, "reason": "  checksum failed  "}, "checksum failed"),
        (json.dumps({"ok": False, "reason": "no space"}), "no space"),
        ({"ok": True, "sha256": "f" * 64}, f"sha256 mismatch: expected {DIGEST}, got {'f' * 64}"),
        ({"ok": True, "sha256": "xyz"}, "ack field 'sha256' must be 64 hex characters"),
        ({"ok": True, "sha256": 5}, "ack field 'sha256' must be 64 hex characters"),
        ({"ok": "yes"}, "ack field 'ok' must be true or false"),
        ({}, "ack field 'ok' must be true or false"),
        (None, "ack must be an object or a boolean, got NoneType"),
        (1, "ack must be an object or a boolean, got int"),
        ([True], "ack must be an object or a boolean, got list"),
        ("done!", "ack is not JSON: 'done!'"),
    ],
)
def test_ack_rejections(payload: object, reason: str) -> None:
    outcome = evaluate_ack(payload, DIGEST)
    assert (outcome.status, outcome.reason, outcome.digest_verified) == ("rejected", reason, False)


def test_ack_reason_is_bounded() -> None:
    outcome = evaluate_ack({"ok": False, "reason": "r" * 5000}, DIGEST)
    assert outcome.reason is not None and len(outcome.reason) == 503


# ---- validation -------------------------------------------------------------------------------


def test_sync_defaults() -> None:
    assert parse_sync_request(b"", 900) == {
        "mode": "sync",
        "customerId": "cust-1001",
        "customerSegment": "enterprise",
        "skus": ["SKU-100", "SKU-200"],
        "ackTimeoutSeconds": 900,
    }
    assert parse_sync_request(b"  \n", 900)["customerId"] == "cust-1001"


def test_devices_empty_list_means_configured_devices() -> None:
    assert parse_devices_request(b'{"deviceIds": []}', 900, 500) == {
        "mode": "devices",
        "ackTimeoutSeconds": 900,
    }


@pytest.mark.parametrize("value", [None, ""])
def test_no_instance_id_lets_the_runtime_choose(value: str | None) -> None:
    assert validate_instance_id(value) is None


def test_validation_error_body() -> None:
    with pytest.raises(ValidationError) as caught:
        parse_sync_request(b'{"skus": ["a", "a"]}', 900)
    assert caught.value.to_json() == {"error": "duplicate sku 'a'", "field": "skus[1]"}


def test_parent_input_from_the_public_api_gets_defaults() -> None:
    assert parse_parent_input({"mode": "sync"}, 300, 500) == {
        "mode": "sync",
        "customerId": "cust-1001",
        "customerSegment": "enterprise",
        "skus": ["SKU-100", "SKU-200"],
        "ackTimeoutSeconds": 300,
    }
    assert parse_parent_input({"mode": "devices", "deviceIds": ["a"]}, 300, 500) == {
        "mode": "devices",
        "deviceIds": ["a"],
        "ackTimeoutSeconds": 300,
    }


# ---- settings ---------------------------------------------------------------------------------


def test_settings_defaults() -> None:
    settings = load_settings({})
    assert settings.ack_timeout_seconds == 900
    assert settings.activity_retry_max_attempts == 3
    assert settings.activity_retry_first_interval_ms == 5000
    assert settings.max_devices_per_run == 500
    assert settings.pending_device_ids == ()
    assert settings.http_auth_level is func.AuthLevel.FUNCTION
    assert settings.package_base_url == "memory://packages"
    assert settings.notifier == "queue"
    assert settings.notification_storage_connection == "AzureWebJobsStorage"
    assert settings.ack_base_url == ""
    assert settings.azure_sdk_http_log_level == "WARNING"


def test_notification_storage_defaults_to_the_packages_connection() -> None:
    env = {"PACKAGE_STORAGE_CONNECTION": "PackagesConn"}
    assert load_settings(env).notification_storage_connection == "PackagesConn"
    env["NOTIFICATION_STORAGE_CONNECTION"] = "QueuesConn"
    assert load_settings(env).notification_storage_connection == "QueuesConn"


def test_settings_parse_values() -> None:
    settings = load_settings(
        {
            "ACK_TIMEOUT_SECONDS": " 30 ",
            "PENDING_DEVICE_IDS": "dev-1, dev-2;dev-1,,",
            "HTTP_AUTH_LEVEL": "anonymous",
            "PACKAGE_BASE_URL": "https://example.invalid/p/",
            "ACTIVITY_RETRY_MAX_ATTEMPTS": "",
        }
    )
    assert settings.ack_timeout_seconds == 30
    assert settings.pending_device_ids == ("dev-1", "dev-2")
    assert settings.http_auth_level is func.AuthLevel.ANONYMOUS
    assert settings.package_base_url == "https://example.invalid/p"
    assert settings.activity_retry_max_attempts == 3


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ACK_TIMEOUT_SECONDS", "0"),
        ("ACK_TIMEOUT_SECONDS", "604801"),
        ("ACK_TIMEOUT_SECONDS", "ten"),
        ("ACTIVITY_RETRY_MAX_ATTEMPTS", "0"),
        ("ACTIVITY_RETRY_FIRST_INTERVAL_MS", "0"),
        ("MAX_DEVICES_PER_RUN", "-1"),
        ("PENDING_DEVICE_IDS", "ok-1,not ok"),
        ("HTTP_AUTH_LEVEL", "PUBLIC"),
        ("NOTIFIER", "email"),
        ("ACK_BASE_URL", "app.example/api"),
        ("ACK_BASE_URL", "https://app.example/api?x=1"),
        ("NOTIFICATION_QUEUE_ACCOUNT_URL", "acct.queue.core.windows.net"),
        ("AZURE_SDK_HTTP_LOG_LEVEL", "LOUD"),
    ],
)
def test_bad_settings_name_the_setting(name: str, value: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({name: value})
    assert caught.value.name == name


# ---- packages and the in-memory store -----------------------------------------------------


def test_package_content_is_deterministic() -> None:
    def draft() -> bytes:
        return build_package(
            "device-installation",
            instance_id="run-1:device:dev-1",
            parent_instance_id="run-1",
            created_at="2024-05-01T12:00:00.000000Z",
            subject={"deviceId": "dev-1"},
        ).content

    assert draft() == draft()
    manifest = json.loads(draft())
    assert manifest["packageId"] == package_id_for("device-installation", "run-1:device:dev-1")
    assert manifest["deviceId"] == "dev-1"
    assert manifest["parentInstanceId"] == "run-1"
    assert blob_name_for("run-1:device:dev-1") == "run-1/device/dev-1.json"


def test_in_memory_store_put_is_idempotent() -> None:
    store = InMemoryPackageStore("memory://packages/")
    first = store.put("c", "a b/x.json", b"data", content_type="application/json", ttl_seconds=5)
    again = store.put("c", "a b/x.json", b"data", content_type="application/json", ttl_seconds=5)
    assert first == again
    assert first.url == "memory://packages/c/a%20b/x.json"
    assert first.sha256 == hashlib.sha256(b"data").hexdigest()
    assert first.size_bytes == 4
    assert store.get("c", "a b/x.json") == b"data"
    assert store.get("c", "missing") is None
    with pytest.raises(ValueError):
        store.put("c", "x", b"", content_type="text/plain", ttl_seconds=0)


# ---- the ack links' base URL ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "route", "base"),
    [
        ("http://127.0.0.1:7071/api/provision-devices", "provision-devices", "http://127.0.0.1:7071/api"),
        ("https://app.net/api/start-sub-orchestration?code=k", "start-sub-orchestration", "https://app.net/api"),
        ("https://app.net/provision-devices", "provision-devices", "https://app.net"),
        ("https://app.net/api/other", "provision-devices", None),
        ("ftp://app.net/api/provision-devices", "provision-devices", None),
    ],
)  # fmt: skip
def test_the_request_base_url_of_a_starter(url: str, route: str, base: str | None) -> None:
    assert request_base_url(url, route) == base


def test_the_parent_input_keeps_a_valid_ack_base_url_and_refuses_others() -> None:
    spec = parse_parent_input(
        {"mode": "devices", "ackBaseUrl": "http://h:1/api/"}, default_ack_timeout=60, max_devices=5
    )
    assert spec.get("ackBaseUrl") == "http://h:1/api"
    for bad in ("javascript:alert(1)", "http://h/api?x=1", 5, "http://" + "h" * 600):
        with pytest.raises(ValidationError) as caught:
            parse_parent_input({"mode": "sync", "ackBaseUrl": bad}, 60, 5)
        assert caught.value.field == "ackBaseUrl"
