"""Both workflows end to end: the real function_app.py on durable-local, over real HTTP.

One runtime process serves the whole module (fixture ``host``); every test uses its own
instance ids, so the tests are independent of each other's order.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import time
import uuid
from typing import Any

import pytest
from yarl import URL

from devtools.durable_client import ACK_EVENT, DurableClient, history_events, quote_id
from devtools.host_process import LocalHost

from .conftest import needs_durable_local

pytestmark = pytest.mark.slow


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


async def ack_when_waiting(
    client: DurableClient, child_id: str, payload: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Play the consumer: wait for ``awaiting_ack``, then ack with the digest it downloaded.

    With blob storage (the app's default; Azurite here) the package is fetched through its SAS
    URL and the digest of the bytes is acked; a ``memory://`` URL cannot be fetched from
    outside the worker, so then the status's digest is acked.
    """
    status = await client.wait_for_stage(child_id, "awaiting_ack")
    custom: dict[str, Any] = status["customStatus"]
    assert custom["eventName"] == ACK_EVENT
    assert len(custom["sha256"]) == 64
    assert custom["packageUrl"]
    digest = custom["sha256"]
    if custom["packageUrl"].startswith(("http://", "https://")):
        async with client.session.get(custom["packageUrl"]) as download:
            assert download.status == 200, await download.text()
            digest = hashlib.sha256(await download.read()).hexdigest()
        assert digest == custom["sha256"]
    body = payload if payload is not None else {"ok": True, "sha256": digest}
    response = await client.raise_event(child_id, body)
    assert response.status == 202, response
    assert response.text == ""
    return custom


async def started_id(response: Any) -> str:
    assert response.status == 202, response
    assert response.headers["Location"] == response.body["statusQueryGetUri"]
    instance_id: str = response.body["id"]
    return instance_id


# ---- the sync workflow ---------------------------------------------------------------------


async def test_sync_workflow_completes_with_the_recipe_output(client: DurableClient) -> None:
    parent = await started_id(await client.start_sync())
    customer_id, inventory_id = f"{parent}:customer-sync", f"{parent}:inventory-sync"

    await client.wait_for_stage(customer_id, "awaiting_ack")
    # Sequential: the inventory sync starts only after the customer sync finished.
    assert (await client.status(inventory_id)).status == 404
    customer_status = await ack_when_waiting(client, customer_id)
    assert customer_status["step"] == "customer_sync"
    assert customer_status["parentInstanceId"] == parent
    inventory_status = await ack_when_waiting(client, inventory_id)
    assert inventory_status["step"] == "inventory_sync"

    final = await client.wait_for(parent)
    assert final["runtimeStatus"] == "Completed"
    final_response = await client.status(parent)
    assert final_response.status == 200  # 202 while running, 200 once completed
    output = final["output"]
    assert output["mode"] == "sync"
    assert output["instanceId"] == parent
    assert output["status"] == "completed"
    customer, inventory = output["customer"], output["inventory"]
    assert {k: customer[k] for k in ("step", "customerId", "segment", "status", "instanceId")} == {
        "step": "customer_sync",
        "customerId": "cust-1001",
        "segment": "enterprise",
        "status": "completed",
        "instanceId": customer_id,
    }
    assert customer["digestVerified"] is True
    assert customer["sha256"] == customer_status["sha256"]
    assert customer["packageUrl"] == customer_status["packageUrl"]
    assert customer["reason"] is None
    assert {k: inventory[k] for k in ("step", "skuCount", "skus", "status")} == {
        "step": "inventory_sync",
        "skuCount": 2,
        "skus": ["SKU-100", "SKU-200"],
        "status": "completed",
    }
    assert inventory["digestVerified"] is True
    # The children's own outputs are what the parent reports.
    assert (await client.status(customer_id)).body["output"] == customer
    assert (await client.status(inventory_id)).body["output"] == inventory


async def test_sync_workflow_with_custom_body(client: DurableClient) -> None:
    body = {"customer_id": "cust-42", "customer_segment": "smb", "skus": ["A-1", "B-2", "C-3"]}
    parent = await started_id(await client.start_sync(body))
    await ack_when_waiting(client, f"{parent}:customer-sync")
    await ack_when_waiting(client, f"{parent}:inventory-sync")
    output = (await client.wait_for(parent))["output"]
    assert output["customer"]["customerId"] == "cust-42"
    assert output["customer"]["segment"] == "smb"
    assert output["inventory"]["skuCount"] == 3
    assert output["inventory"]["skus"] == ["A-1", "B-2", "C-3"]


# ---- the devices workflow ------------------------------------------------------------------


async def test_devices_workflow_completes(client: DurableClient) -> None:
    devices = [f"dev-{n}" for n in range(6)]
    parent = await started_id(await client.start_devices({"deviceIds": devices}))
    customs = await asyncio.gather(
        *(ack_when_waiting(client, f"{parent}:device:{d}") for d in devices)
    )
    assert {c["deviceId"] for c in customs} == set(devices)
    final = await client.wait_for(parent)
    output = final["output"]
    assert final["runtimeStatus"] == "Completed"
    assert output["mode"] == "devices"
    assert output["total"] == 6
    assert output["succeeded"] == devices
    assert output["failed"] == []
    assert output["status"] == "completed"
    for device_id in devices:
        result = output["devices"][device_id]
        assert result["step"] == "device_provisioning"
        assert result["deviceId"] == device_id
        assert result["instanceId"] == f"{parent}:device:{device_id}"
        assert result["status"] == "completed"
        assert result["digestVerified"] is True
    assert final["customStatus"]["completed"] == 6


async def test_devices_from_configuration(client: DurableClient) -> None:
    # No deviceIds: the run provisions PENDING_DEVICE_IDS (an app setting).
    parent = await started_id(await client.start_devices({}))
    for device_id in ("cfg-a", "cfg-b", "cfg-c"):
        await ack_when_waiting(client, f"{parent}:device:{device_id}")
    output = (await client.wait_for(parent))["output"]
    assert output["succeeded"] == ["cfg-a", "cfg-b", "cfg-c"]


async def test_rejections_and_bad_digests(client: DurableClient) -> None:
    parent = await started_id(await client.start_devices({"deviceIds": ["r1", "r2", "r3"]}))
    await ack_when_waiting(client, f"{parent}:device:r1", {"ok": False, "reason": "disk full"})
    await ack_when_waiting(client, f"{parent}:device:r2", {"ok": True, "sha256": "ab" * 32})
    await ack_when_waiting(client, f"{parent}:device:r3", {"ok": True})  # no digest
    output = (await client.wait_for(parent))["output"]
    failed = {f["deviceId"]: f for f in output["failed"]}
    assert failed["r1"] == {"deviceId": "r1", "status": "rejected", "reason": "disk full"}
    assert failed["r2"]["status"] == "rejected"
    assert "sha256 mismatch" in failed["r2"]["reason"]
    assert output["succeeded"] == ["r3"]
    assert output["devices"]["r3"]["digestVerified"] is False
    assert output["status"] == "completed_with_errors"


# ---- timeouts ------------------------------------------------------------------------------


async def test_ack_timeouts(client: DurableClient) -> None:
    began = time.monotonic()
    sync_parent = await started_id(await client.start_sync({"ackTimeoutSeconds": 1}))
    devices_parent = await started_id(
        await client.start_devices({"deviceIds": ["t1", "t2"], "ackTimeoutSeconds": 1})
    )
    await ack_when_waiting(client, f"{devices_parent}:device:t1")  # t2 never answers

    sync_final = await client.wait_for(sync_parent, timeout=20)
    devices_final = await client.wait_for(devices_parent, timeout=20)
    # Two sequential 1 s windows in sync mode.
    assert time.monotonic() - began >= 2.0

    sync_output = sync_final["output"]
    assert sync_output["status"] == "completed_with_errors"
    for part in ("customer", "inventory"):
        assert sync_output[part]["status"] == "timed_out"
        assert sync_output[part]["reason"] == f"no {ACK_EVENT} within 1 s"
    devices_output = devices_final["output"]
    assert devices_output["succeeded"] == ["t1"]
    assert devices_output["failed"] == [
        {"deviceId": "t2", "status": "timed_out", "reason": f"no {ACK_EVENT} within 1 s"}
    ]

    # A late ack finds the child gone: 410, as the host answers for completed instances.
    late = await client.raise_event(f"{devices_parent}:device:t2", {"ok": True})
    assert late.status == 410
    assert late.body["ExceptionMessage"]


# ---- instance management -------------------------------------------------------------------


async def test_starting_a_running_instance_id_is_409(client: DurableClient) -> None:
    instance_id = unique("singleton")
    first = await client.start_sync(instance_id=instance_id)
    assert first.status == 202
    assert first.body["id"] == instance_id
    second = await client.start_sync(instance_id=instance_id)
    assert second.status == 409, second
    assert second.body["field"] == "instanceId"
    assert second.body["instanceId"] == instance_id
    assert second.body["runtimeStatus"] in ("Pending", "Running")
    devices = await client.start_devices(instance_id=instance_id)
    assert devices.status == 409
    # The public API answers as the host does (spec §7.2): 500 with an HttpError body.
    public = await client.request(
        "POST",
        f"/runtime/webhooks/durabletask/orchestrators/parent_workflow_orchestrator/{instance_id}",
        json_body={"mode": "sync"},
    )
    assert public.status == 500
    assert "already exists" in public.body["ExceptionMessage"]

    # Once finished, the id can be used again (a new execution replaces the old one).
    assert (await client.post(instance_id, "terminate", "done")).status == 202
    await client.wait_for(instance_id, {"Terminated"})
    again = await client.start_sync({"ackTimeoutSeconds": 1}, instance_id=instance_id)
    assert again.status == 202
    await client.wait_for(instance_id, {"Running"})
    await client.post(instance_id, "terminate")
    await client.post(f"{instance_id}:customer-sync", "terminate")


async def test_suspend_resume_terminate_and_purge_a_parent(client: DurableClient) -> None:
    parent = await started_id(await client.start_sync())
    customer_id, inventory_id = f"{parent}:customer-sync", f"{parent}:inventory-sync"
    await client.wait_for_stage(customer_id, "awaiting_ack")

    assert (await client.post(parent, "suspend", "maintenance")).status == 202
    suspended = await client.wait_for(parent, {"Suspended"})
    assert (await client.status(parent)).status == 202  # still in progress
    assert suspended["customStatus"]["stage"] == "customer_sync"
    # Suspending twice is the host's InvalidOperationException (500).
    assert (await client.post(parent, "suspend")).status == 500

    # The child completes while the parent is suspended; the parent does not move on.
    await ack_when_waiting(client, customer_id)
    await client.wait_for(customer_id, {"Completed"})
    await asyncio.sleep(0.5)
    assert (await client.status(inventory_id)).status == 404
    assert (await client.status(parent)).body["runtimeStatus"] == "Suspended"

    assert (await client.post(parent, "resume", "back")).status == 202
    await client.wait_for_stage(inventory_id, "awaiting_ack")
    running = await client.wait_for(parent, {"Running"})
    assert running["customStatus"]["stage"] == "inventory_sync"
    assert (await client.post(parent, "resume")).status == 500  # not suspended

    assert (await client.post(parent, "terminate", "operator stop")).status == 202
    terminated = await client.wait_for(parent, {"Terminated"})
    assert terminated["output"] == "operator stop"
    assert (await client.status(parent)).status == 200
    for operation in ("terminate", "suspend", "resume"):
        assert (await client.post(parent, operation)).status == 410
    assert (await client.raise_event(parent, {"ok": True})).status == 410
    # Terminating a parent leaves its running child alone (as in Durable Functions).
    assert (await client.status(inventory_id)).body["runtimeStatus"] == "Running"
    assert (await client.post(inventory_id, "terminate")).status == 202

    purged = await client.purge(parent)
    assert purged.status == 200
    assert purged.body == {"instancesDeleted": 1}
    gone = await client.status(parent)
    assert gone.status == 404
    assert (await client.purge(parent)).status == 404
    assert (await client.post(parent, "terminate")).status == 404
    # Purging the parent does not purge its children.
    assert (await client.status(customer_id)).status == 200


async def test_listing_children_by_instance_id_prefix(client: DurableClient) -> None:
    devices = [f"p{n:02d}" for n in range(30)]
    parent = await started_id(
        await client.start_devices({"deviceIds": devices}, instance_id=unique("lister"))
    )
    prefix = f"{parent}:device:"
    deadline = time.monotonic() + 20
    children: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        children = await client.list_prefix(prefix, top=7)  # paging via continuation tokens
        if len(children) == 30:
            break
        await asyncio.sleep(0.05)
    assert sorted(c["instanceId"] for c in children) == [prefix + d for d in devices]
    assert {c["name"] for c in children} == {"device_provisioning_orchestrator"}
    assert all(c["input"] is None for c in children)  # showInput=false
    everything = await client.list_prefix(parent)
    assert len(everything) == 31  # the parent and its children
    assert (await client.status(parent)).body["customStatus"]["childInstanceIdPrefix"] == prefix

    # A filter on status as well as the prefix.
    running = await client.request(
        "GET",
        "/runtime/webhooks/durabletask/instances",
        params={"instanceIdPrefix": prefix, "runtimeStatus": "Completed,Terminated"},
    )
    assert running.status == 200
    assert running.body == []
    assert (await client.list_prefix(unique("nobody"))) == []

    await client.post(parent, "terminate")
    await asyncio.gather(*(client.post(prefix + d, "terminate") for d in devices))


# ---- the SDK client's double-encoded event payload -----------------------------------------


@needs_durable_local("raises events on the SDK's RPC surface, served only to the host's machine")
async def test_acks_raised_like_the_sdk_client_are_understood(
    client: DurableClient, host: LocalHost
) -> None:
    parent = await started_id(await client.start_sync())
    customer_id, inventory_id = f"{parent}:customer-sync", f"{parent}:inventory-sync"

    # 1. By hand, on the RPC surface, exactly as DurableOrchestrationClient.raise_event sends it.
    custom = (await client.wait_for_stage(customer_id, "awaiting_ack"))["customStatus"]
    response = await client.raise_event_like_sdk(
        customer_id, {"ok": True, "sha256": custom["sha256"]}
    )
    assert response.status == 202, response

    # 2. Through the SDK client itself, built from a binding that points at the runtime.
    import azure.durable_functions as df
    from azure.durable_functions.models.utils import http_utils

    custom = (await client.wait_for_stage(inventory_id, "awaiting_ack"))["customStatus"]
    binding = {
        "taskHubName": "DeviceSyncHub",
        "creationUrls": {},
        "managementUrls": {"id": "INSTANCEID"},
        "rpcBaseUrl": f"{host.base_url}/durabletask/",
    }
    sdk_client = df.DurableOrchestrationClient(json.dumps(binding))
    try:
        await sdk_client.raise_event(
            inventory_id, ACK_EVENT, {"ok": True, "sha256": custom["sha256"]}
        )
        sdk_status = await sdk_client.get_status(parent)
        assert sdk_status.instance_id == parent
    finally:
        close = getattr(http_utils, "_close_session", None)
        if close is not None:
            with contextlib.suppress(Exception):
                await close()

    output = (await client.wait_for(parent))["output"]
    assert output["customer"]["status"] == "completed"
    assert output["customer"]["digestVerified"] is True
    assert output["inventory"]["status"] == "completed"
    assert output["inventory"]["digestVerified"] is True

    # The history keeps the double encoding (spec §4.3): the stored input is a JSON string
    # whose value is the JSON text of the payload; a device's ack is stored as the object.
    for child_id in (customer_id, inventory_id):
        history = (await client.status(child_id, history=True)).body
        raised = history_events(history, "EventRaised", ACK_EVENT)
        assert len(raised) == 1
        inner = json.loads(raised[0]["Input"])
        assert isinstance(inner, str)
        assert json.loads(inner)["ok"] is True


async def test_management_urls_of_an_unusual_instance_id_can_be_followed(
    client: DurableClient,
) -> None:
    # Valid for the host (spec §7.1) though not for the app's starters: spaces, '%', ':', unicode.
    instance_id = f"odd id 50% \u2603:{uuid.uuid4().hex[:6]}"
    started = await client.request(
        "POST",
        f"/runtime/webhooks/durabletask/orchestrators/parent_workflow_orchestrator/"
        f"{quote_id(instance_id)}",
        json_body={"mode": "sync", "ackTimeoutSeconds": 1},
    )
    assert started.status == 202, started
    assert started.body["id"] == instance_id
    assert started.headers["Location"] == started.body["statusQueryGetUri"]
    status_url = started.body["statusQueryGetUri"]
    assert status_url.isascii()
    async with client.session.get(URL(status_url, encoded=True)) as response:
        assert response.status in (200, 202)
        assert (await response.json())["instanceId"] == instance_id
    terminate_url = started.body["terminatePostUri"].replace("{text}", "done")
    async with client.session.post(URL(terminate_url, encoded=True)) as response:
        assert response.status == 202
    assert (await client.wait_for(instance_id, {"Terminated"}))["output"] == "done"
