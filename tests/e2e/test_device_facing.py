"""The app as its consumers see it, end to end over real HTTP: queue notifications, signed ack
links, cancelling a run.

Consumers here hold no key of the app: they read their queue (``devtools.consumers``), download
the package through its SAS URL, check the digest and POST their ack to the message's
``ackUrl``. Figures (ack burst, cancel of 100 devices) are printed, never asserted.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import aiohttp
import pytest

from devtools.consumers import NotificationReader, fetch_digest, post_ack
from devtools.durable_client import ACK_EVENT, DurableClient, history_events

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def needs_queues(storage_connection: str | None) -> None:
    if storage_connection is None:
        pytest.skip("Azurite is not installed (node_modules/.bin/azurite): run `npm install`")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def start_devices(
    client: DurableClient, devices: list[str], ack_timeout: int, prefix: str = "dev"
) -> str:
    parent = unique(prefix)
    response = await client.start_devices(
        {"deviceIds": devices, "ackTimeoutSeconds": ack_timeout}, instance_id=parent
    )
    assert response.status == 202, response
    return parent


async def notifications(
    storage: str, queue: str, parent: str, count: int, timeout: float = 90
) -> dict[str, dict[str, Any]]:
    """The run's notifications on ``queue`` by child instance id (exactly ``count``)."""
    reader = NotificationReader(storage, queue, parent)
    found = await reader.take(count, timeout=timeout)
    assert len(found) == count, f"{len(found)} of {count} notifications on {queue}"
    return {n["instanceId"]: n for n in found}


async def download_and_ack(session: aiohttp.ClientSession, note: dict[str, Any]) -> int:
    status, digest = await fetch_digest(session, note["packageUrl"])
    assert status == 200
    assert digest == note["sha256"]
    code, body = await post_ack(session, note["ackUrl"], {"ok": True, "sha256": digest})
    assert code in (202, 410), body
    return code


# ---- the device flow ---------------------------------------------------------------------------


async def test_devices_read_their_queue_download_verify_and_ack_through_their_link(
    client: DurableClient, storage_connection: str
) -> None:
    devices = ["q-1", "q-2", "q-3"]
    parent = await start_devices(client, devices, ack_timeout=120)
    notes = await notifications(storage_connection, "device-notifications", parent, 3)
    assert {n["deviceId"] for n in notes.values()} == set(devices)
    for child_id, note in notes.items():
        assert note["schema"] == "package-ready/v1"
        assert note["eventName"] == ACK_EVENT
        assert note["parentInstanceId"] == parent
        assert "/api/acks/" in note["ackUrl"]
        assert "sig=" in note["packageUrl"]
        status = await client.wait_for_stage(child_id, "awaiting_ack")
        # Operators see the same link in the custom status (it needs the system key).
        assert status["customStatus"]["ackUrl"] == note["ackUrl"]
        assert status["customStatus"]["notification"] == "queue:device-notifications"

    session = client.session
    # A tampered link and a malformed body are refused before anything is raised.
    some = next(iter(notes.values()))
    tampered = some["ackUrl"][:-2] + ("AA" if not some["ackUrl"].endswith("AA") else "BB")
    assert (await post_ack(session, tampered, {"ok": True}))[0] == 403
    code, body = await post_ack(session, some["ackUrl"], {"ok": "yes"})
    assert (code, body["field"]) == (400, "ok")

    assert [await download_and_ack(session, n) for n in notes.values()] == [202, 202, 202]
    final = await client.wait_for(parent, timeout=60)
    output = final["output"]
    assert output["succeeded"] == devices
    assert all(output["devices"][d]["digestVerified"] for d in devices)

    # The child finished: its link now answers 410.
    code, body = await post_ack(session, some["ackUrl"], {"ok": True})
    assert code == 410
    assert body["runtimeStatus"] == "Completed"


async def test_crm_and_warehouse_read_their_queues_and_ack(
    client: DurableClient, storage_connection: str
) -> None:
    response = await client.start_sync({"ackTimeoutSeconds": 120})
    assert response.status == 202, response
    parent = response.body["id"]
    for queue, step in (
        ("crm-notifications", "customer"),
        ("warehouse-notifications", "inventory"),
    ):
        [note] = (await notifications(storage_connection, queue, parent, 1)).values()
        assert note["instanceId"] == f"{parent}:{step}-sync"
        assert await download_and_ack(client.session, note) == 202
    output = (await client.wait_for(parent, timeout=60))["output"]
    assert output["customer"]["digestVerified"] is True
    assert output["customer"]["customerId"] == "cust-1001"
    assert output["inventory"]["digestVerified"] is True


async def test_an_expired_link_answers_410(client: DurableClient, storage_connection: str) -> None:
    parent = await start_devices(client, ["late"], ack_timeout=1, prefix="exp")
    [note] = (await notifications(storage_connection, "device-notifications", parent, 1)).values()
    final = await client.wait_for(parent, timeout=60)
    assert final["output"]["failed"][0]["status"] == "timed_out"
    code, body = await post_ack(client.session, note["ackUrl"], {"ok": True})
    assert code == 410
    assert body["error"].startswith("the ack link expired at ")


# ---- 50 devices at once, with duplicates ------------------------------------------------------


async def test_fifty_devices_ack_at_once_with_duplicates(
    client: DurableClient, storage_connection: str
) -> None:
    devices = [f"burst-{n:02d}" for n in range(50)]
    parent = await start_devices(client, devices, ack_timeout=300, prefix="burst")
    notes = await notifications(storage_connection, "device-notifications", parent, 50)
    for child_id in notes:
        await client.wait_for_stage(child_id, "awaiting_ack", timeout=60)

    session = client.session
    digests = {}
    for child_id, note in notes.items():
        status, digest = await fetch_digest(session, note["packageUrl"])
        assert status == 200 and digest == note["sha256"]
        digests[child_id] = digest

    # Every device acks twice at the same moment (a retrying device), 100 POSTs in flight.
    began = time.perf_counter()
    answers = await asyncio.gather(
        *(
            post_ack(session, note["ackUrl"], {"ok": True, "sha256": digests[child_id]})
            for child_id, note in notes.items()
            for _ in range(2)
        )
    )
    burst = time.perf_counter() - began
    codes = [code for code, _ in answers]
    assert set(codes) <= {202, 410}, answers
    per_child = [codes[i : i + 2] for i in range(0, 100, 2)]
    assert all(202 in pair for pair in per_child)  # each device got through at least once

    final = await client.wait_for(parent, timeout=120)
    settled = time.perf_counter() - began
    output = final["output"]
    assert output["succeeded"] == devices
    assert output["failed"] == []
    assert all(output["devices"][d]["digestVerified"] for d in devices)
    # The child took the first ack; a duplicate that got in is in the history, unused.
    for child_id in list(notes)[:5]:
        history = (await client.status(child_id, history=True)).body
        assert 1 <= len(history_events(history, "EventRaised", ACK_EVENT)) <= 2

    # Late duplicates: every child finished, every link answers 410.
    late = await asyncio.gather(
        *(post_ack(session, n["ackUrl"], {"ok": True}) for n in notes.values())
    )
    assert {code for code, _ in late} == {410}
    print(
        f"\n50 devices x 2 concurrent acks: {codes.count(202)} x 202, {codes.count(410)} x 410, "
        f"burst answered in {burst:.2f} s, run completed {settled:.2f} s after the first ack"
    )


# ---- cancelling a run ----------------------------------------------------------------------------


async def test_cancelling_a_run_of_100_devices_terminates_parent_and_every_child(
    client: DurableClient, storage_connection: str
) -> None:
    devices = [f"c{n:03d}" for n in range(100)]
    parent = await start_devices(client, devices, ack_timeout=900, prefix="cancel")
    prefix = f"{parent}:device:"
    deadline = time.monotonic() + 120
    while True:
        children = await client.list_prefix(prefix)
        waiting = [
            c for c in children if (c.get("customStatus") or {}).get("stage") == "awaiting_ack"
        ]
        if len(waiting) == 100:
            break
        assert time.monotonic() < deadline, f"{len(waiting)} children awaiting their ack"
        await asyncio.sleep(0.2)
    [note] = list(
        (await notifications(storage_connection, "device-notifications", parent, 100)).values()
    )[:1]

    began = time.perf_counter()
    response = await client.cancel_run(parent, {"reason": "firmware recalled"})
    took = time.perf_counter() - began
    assert response.status == 202, response
    assert response.body["parent"] == {"runtimeStatus": "Terminated", "terminated": True}
    assert response.body["children"]["stillActive"] == 0
    assert response.body["children"]["terminated"] == [prefix + d for d in devices]

    parent_status = await client.wait_for(parent, {"Terminated"}, timeout=30)
    assert parent_status["output"] == "firmware recalled"
    settle = time.monotonic() + 60
    while True:
        children = await client.list_prefix(prefix)
        states = {c["runtimeStatus"] for c in children}
        if states == {"Terminated"} and len(children) == 100:
            break
        assert time.monotonic() < settle, f"children still {states}"
        await asyncio.sleep(0.2)
    settled = time.perf_counter() - began
    # A cancelled child's link answers 410; cancelling again has nothing left to do.
    code, body = await post_ack(client.session, note["ackUrl"], {"ok": True})
    assert (code, body["runtimeStatus"]) == (410, "Terminated")
    again = await client.cancel_run(parent)
    assert again.status == 202
    assert again.body["children"] == {"terminated": [], "stillActive": 0}
    print(
        f"\ncancel of 100 devices: the call answered in {took:.2f} s, "
        f"all 101 instances Terminated {settled:.2f} s after it began"
    )


async def test_cancelling_a_sync_run_stops_it_before_the_inventory_sync(
    client: DurableClient,
) -> None:
    response = await client.start_sync({"ackTimeoutSeconds": 300})
    parent = response.body["id"]
    await client.wait_for_stage(f"{parent}:customer-sync", "awaiting_ack")
    cancelled = await client.cancel_run(parent)
    assert cancelled.status == 202, cancelled
    assert cancelled.body["children"]["terminated"] == [f"{parent}:customer-sync"]
    await client.wait_for(f"{parent}:customer-sync", {"Terminated"})
    assert (await client.status(f"{parent}:inventory-sync")).status == 404


async def test_cancel_answers_404_and_400(client: DurableClient) -> None:
    missing = await client.cancel_run(unique("nobody"))
    assert missing.status == 404 and missing.body["error"].startswith("no run with instance id")
    child = await client.cancel_run("run-1:device:dev-1")
    assert (child.status, child.body["field"]) == (400, "instanceId")


async def test_a_child_terminated_by_hand_is_reported_as_terminated(
    client: DurableClient, storage_connection: str
) -> None:
    parent = await start_devices(client, ["keep", "stop"], ack_timeout=300, prefix="term")
    notes = await notifications(storage_connection, "device-notifications", parent, 2)
    stopped = await client.post(f"{parent}:device:stop", "terminate", reason="device retired")
    assert stopped.status == 202
    assert await download_and_ack(client.session, notes[f"{parent}:device:keep"]) == 202
    output = (await client.wait_for(parent, timeout=60))["output"]
    assert output["succeeded"] == ["keep"]
    assert output["failed"] == [
        {"deviceId": "stop", "status": "terminated", "reason": "device retired"}
    ]
