"""The app's activities and the device sub-orchestrator on real blob storage (Azurite).

Activities are called the way the host calls them; the orchestrations run on durable-local's
in-process ``DurableRuntime`` (real SDK replay, SQLite in memory, a ``ManualClock``), with the
app's default package store: blob storage configured through ``AzureWebJobsStorage``. The
device is played by ``device_ack``: download through the SAS URL with plain HTTP, check the
digest, ack with what it found.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib.util
import json
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import pytest
from azure.storage.blob import BlobServiceClient

from devtools.azurite import Azurite, connection_string_for
from durable_local.functions.registry import FunctionRegistry
from durable_local.runtime.client import DurableRuntime
from durable_local.runtime.clock import ManualClock
from durable_local.store.sqlite import SqliteStore
from workflows.blob_store import AccountKeySigner, BlobPackageStore, parse_connection_string
from workflows.contracts import ACK_EVENT, BUILD_DEVICE_PACKAGE, DEVICE_PROVISIONING
from workflows.package_store import set_package_store

ROOT = Path(__file__).resolve().parents[3]
_functions: dict[str, Any] | None = None


def app_functions() -> dict[str, Any]:
    """A private copy of function_app.py's functions (a DFApp indexes its functions only once,
    and tests/workflows indexes the imported ``function_app`` module)."""
    global _functions
    if _functions is None:
        spec = importlib.util.spec_from_file_location(
            "function_app_storage_tests", ROOT / "function_app.py"
        )
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        _functions = {f.get_function_name(): f for f in module.app.get_functions()}
    return _functions


def activity(name: str) -> Callable[[Any], Any]:
    return app_functions()[name].get_user_function()  # type: ignore[no-any-return]


def device_ack(url: str, expected_sha256: str) -> dict[str, Any]:
    """What a device acks: download through the SAS URL, verify, report the digest it got."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            data = response.read()
    except urllib.error.HTTPError as error:
        return {"ok": False, "reason": f"download refused by storage: HTTP {error.code}"}
    digest = hashlib.sha256(data).hexdigest()
    if digest != expected_sha256:
        return {"ok": False, "reason": f"sha256 mismatch: downloaded {digest}"}
    return {"ok": True, "sha256": digest}


def build_request(instance_id: str, device_id: str) -> dict[str, Any]:
    return {
        "parentInstanceId": instance_id.split(":", 1)[0],
        "instanceId": instance_id,
        "requestedAt": "2026-01-01T00:00:05.000000Z",
        "ttlSeconds": 120,
        "subject": {"deviceId": device_id},
    }


# ---- activities ---------------------------------------------------------------------------


def test_the_build_activity_writes_the_manifest_to_device_packages(
    storage_env: dict[str, str], service: BlobServiceClient
) -> None:
    result = activity(BUILD_DEVICE_PACKAGE)(build_request("run-a:device:dev-1", "dev-1"))
    assert result["container"] == "device-packages"
    assert result["blobName"] == "run-a/device/dev-1.json"
    assert result["url"].split("?")[0].endswith("/device-packages/run-a/device/dev-1.json")
    content = service.get_blob_client("device-packages", "run-a/device/dev-1.json")
    manifest = json.loads(content.download_blob().readall())
    assert manifest == {
        "schema": "device-installation/v1",
        "packageId": result["packageId"],
        "createdAt": "2026-01-01T00:00:05.000000Z",
        "instanceId": "run-a:device:dev-1",
        "parentInstanceId": "run-a",
        "deviceId": "dev-1",
    }
    assert device_ack(result["url"], result["sha256"]) == {"ok": True, "sha256": result["sha256"]}


def test_a_rerun_of_the_build_activity_writes_the_same_blob(
    storage_env: dict[str, str], service: BlobServiceClient
) -> None:
    build = activity("build_customer_profile_export")
    request = {
        **build_request("run-b:customer-sync", ""),
        "subject": {"customerId": "cust-1", "segment": "smb"},
    }
    first = build(request)
    set_package_store(None)  # a crash: the re-run happens in a fresh worker process
    second = build(request)
    same = ("packageId", "container", "blobName", "sha256", "sizeBytes")
    assert {k: first[k] for k in same} == {k: second[k] for k in same}
    assert first["url"].split("?")[0] == second["url"].split("?")[0]
    blobs = list(service.get_container_client("customer-exports").list_blobs("run-b/"))
    assert [b.name for b in blobs] == ["run-b/customer-sync.json"]
    for result in (first, second):
        assert device_ack(result["url"], first["sha256"])["ok"] is True


def test_the_build_activity_creates_its_missing_container(
    storage_env: dict[str, str], service: BlobServiceClient
) -> None:
    container = service.get_container_client("inventory-snapshots")
    if container.exists():
        container.delete_container()
    request = {**build_request("run-c:inventory-sync", ""), "subject": {"skus": ["S-1"]}}
    result = activity("build_inventory_snapshot")(request)
    assert result["container"] == "inventory-snapshots"
    assert container.exists()
    assert device_ack(result["url"], result["sha256"])["ok"] is True


def test_the_outcome_record_goes_to_package_outcomes(
    storage_env: dict[str, str], service: BlobServiceClient
) -> None:
    record = {
        "parentInstanceId": "run-d",
        "instanceId": "run-d:device:dev-1",
        "step": "device_provisioning",
        "status": "completed",
        "reason": None,
        "packageUrl": "http://x",
        "sha256": "ab" * 32,
        "finishedAt": "2026-01-01T00:01:00.000000Z",
    }
    result = activity("record_package_outcome")(record)
    blob = service.get_blob_client("package-outcomes", "run-d/device/dev-1.json")
    assert json.loads(blob.download_blob().readall()) == record
    assert result["recordUrl"].split("?")[0] == blob.url


# ---- the device sub-orchestrator on the in-process runtime -------------------------------


@pytest.fixture
async def runtime(storage_env: dict[str, str]) -> AsyncIterator[tuple[DurableRuntime, ManualClock]]:
    clock = ManualClock(datetime(2026, 1, 1, tzinfo=UTC))
    registry = FunctionRegistry.from_functions(app_functions().values())
    async with DurableRuntime(registry, SqliteStore(":memory:"), clock) as running:
        yield running, clock


async def run_until_done(
    runtime: DurableRuntime, clock: ManualClock, instance_id: str, step: float = 1.0
) -> dict[str, Any]:
    for _ in range(120):
        await runtime.wait_idle()
        status = await runtime.get_status(instance_id)
        if status["runtimeStatus"] not in ("Pending", "Running"):
            return dict(status)
        clock.advance(step)
    raise AssertionError(f"{instance_id} did not finish: {status}")


async def provision_one(
    runtime: DurableRuntime,
    clock: ManualClock,
    instance_id: str,
    on_url: Callable[[str], str] = lambda url: url,
) -> dict[str, Any]:
    """Run one device child; the device downloads ``on_url(packageUrl)`` and acks."""
    device_id = instance_id.rsplit(":", 1)[-1]
    await runtime.start_new(
        DEVICE_PROVISIONING, {"deviceId": device_id, "ackTimeoutSeconds": 300}, instance_id
    )
    await runtime.wait_idle()
    custom = (await runtime.get_status(instance_id))["customStatus"]
    assert custom["stage"] == "awaiting_ack", custom
    assert custom["packageUrl"].startswith("http://127.0.0.1:")
    ack = await asyncio.to_thread(device_ack, on_url(custom["packageUrl"]), custom["sha256"])
    await runtime.raise_event(instance_id, ACK_EVENT, ack)
    return await run_until_done(runtime, clock, instance_id)


async def test_the_device_downloads_through_the_sas_and_the_child_completes(
    runtime: tuple[DurableRuntime, ManualClock],
) -> None:
    final = await provision_one(*runtime, "run-e:device:dev-1")
    assert final["runtimeStatus"] == "Completed"
    output = final["output"]
    assert output["status"] == "completed"
    assert output["digestVerified"] is True
    assert "sig=" in output["packageUrl"]


async def test_an_expired_sas_is_refused_and_the_device_reports_not_ok(
    runtime: tuple[DurableRuntime, ManualClock], azurite: Azurite
) -> None:
    connection = parse_connection_string(azurite.connection_string, "AzureWebJobsStorage")
    signer = AccountKeySigner(
        connection.account_name, connection.account_key, connection.blob_endpoint
    )
    service = BlobServiceClient(
        connection.blob_endpoint,
        credential={"account_name": connection.account_name, "account_key": connection.account_key},
    )
    # A store whose SAS were issued two hours ago: expired before the device gets to them.
    set_package_store(
        BlobPackageStore(service, signer, clock=lambda: datetime.now(UTC) - timedelta(hours=2))
    )
    final = await provision_one(*runtime, "run-f:device:dev-1")
    output = final["output"]
    assert output["status"] == "rejected"
    assert output["reason"] == "download refused by storage: HTTP 403"
    assert output["digestVerified"] is False


async def test_a_tampered_sas_is_refused_and_the_device_reports_not_ok(
    runtime: tuple[DurableRuntime, ManualClock],
) -> None:
    def extend_expiry(url: str) -> str:
        parts = urlsplit(url)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        query["se"] = "2099-01-01T00:00:00Z"
        return urlunsplit(parts._replace(query=urlencode(query)))

    final = await provision_one(*runtime, "run-g:device:dev-1", on_url=extend_expiry)
    output = final["output"]
    assert output["status"] == "rejected"
    assert output["reason"] == "download refused by storage: HTTP 403"


async def test_unreachable_storage_fails_the_build_after_its_retries_with_a_clear_reason(
    runtime: tuple[DurableRuntime, ManualClock], monkeypatch: pytest.MonkeyPatch
) -> None:
    running, clock = runtime
    # Nothing listens on port 9 (discard): connection refused.
    monkeypatch.setenv("AzureWebJobsStorage", connection_string_for("http://127.0.0.1:9/acct"))
    monkeypatch.setenv("ACTIVITY_RETRY_MAX_ATTEMPTS", "2")
    monkeypatch.setenv("ACTIVITY_RETRY_FIRST_INTERVAL_MS", "1000")
    set_package_store(None)
    instance_id = "run-h:device:dev-1"
    await running.start_new(
        DEVICE_PROVISIONING, {"deviceId": "dev-1", "ackTimeoutSeconds": 300}, instance_id
    )
    final = await run_until_done(running, clock, instance_id)

    # The child itself completes and reports the failure (it does not crash).
    assert final["runtimeStatus"] == "Completed"
    output = final["output"]
    assert output["status"] == "failed"
    assert output["packageUrl"] is None
    reason: str = output["reason"]
    assert reason.startswith(f"Activity function '{BUILD_DEVICE_PACKAGE}' failed")
    assert "blob storage unreachable at http://127.0.0.1:9/acct" in reason
    assert "device-packages/run-h/device/dev-1.json" in reason

    history = (await running.get_status(instance_id, show_history=True))["historyEvents"]
    failed_builds = [
        e
        for e in history
        if e["EventType"] == "TaskFailed" and e.get("FunctionName") == BUILD_DEVICE_PACKAGE
    ]
    assert len(failed_builds) == 2  # ACTIVITY_RETRY_MAX_ATTEMPTS
