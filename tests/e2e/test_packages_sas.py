"""Packages in blob storage end to end: the real app on durable-local, packages on Azurite.

The devices download their package through the SAS URL from the child's custom status, check
the digest and ack with it; a device handed a tampered SAS is refused by storage (403) and acks
``ok: false``. (Expired SAS are covered in tests/workflows/storage/test_blob_workflow.py, where
the package store's clock can be set back: here the SAS lives as long as the ack window, so a
device that waited for its expiry would also miss the ack deadline.)
"""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import pytest

from devtools.azurite import Azurite
from devtools.durable_client import DurableClient

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def needs_storage(storage_connection: str | None) -> None:
    if storage_connection is None:
        pytest.skip("Azurite is not installed (node_modules/.bin/azurite): run `npm install`")


async def device(client: DurableClient, child_id: str, tamper: bool = False) -> dict[str, Any]:
    """Play a device: fetch the package through its SAS URL, verify, ack what it found."""
    custom = (await client.wait_for_stage(child_id, "awaiting_ack"))["customStatus"]
    url: str = custom["packageUrl"]
    if tamper:  # a "longer-lived" SAS: storage must notice the signature no longer matches
        parts = urlsplit(url)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        query["se"] = "2099-01-01T00:00:00Z"
        url = urlunsplit(parts._replace(query=urlencode(query)))
    async with client.session.get(url) as response:
        data = await response.read()
        if response.status != 200:
            ack: dict[str, Any] = {
                "ok": False,
                "reason": f"download refused by storage: HTTP {response.status}",
            }
        else:
            digest = hashlib.sha256(data).hexdigest()
            ok = digest == custom["sha256"]
            ack = {"ok": True, "sha256": digest} if ok else {"ok": False, "reason": "bad digest"}
    raised = await client.raise_event(child_id, ack)
    assert raised.status == 202, raised
    return {"custom": custom, "data": data, "ack": ack}


async def test_devices_download_through_sas_and_a_tampered_sas_is_refused(
    client: DurableClient, azurite: Azurite | None
) -> None:
    parent = f"sas-{uuid.uuid4().hex[:10]}"
    response = await client.start_devices(
        {"deviceIds": ["good", "tampered"], "ackTimeoutSeconds": 120}, instance_id=parent
    )
    assert response.status == 202, response

    good = await device(client, f"{parent}:device:good")
    tampered = await device(client, f"{parent}:device:tampered", tamper=True)

    url = good["custom"]["packageUrl"]
    endpoint = azurite.blob_endpoint if azurite is not None else ""  # another host: its own
    assert f"{endpoint}/device-packages/{parent}/device/good.json?" in url
    assert parse_qs(urlsplit(url).query)["sp"] == ["r"]
    manifest = json.loads(good["data"])
    assert manifest["deviceId"] == "good"
    assert manifest["instanceId"] == f"{parent}:device:good"
    assert manifest["parentInstanceId"] == parent
    assert good["ack"] == {"ok": True, "sha256": good["custom"]["sha256"]}
    assert tampered["ack"]["ok"] is False

    final = await client.wait_for(parent)
    output = final["output"]
    assert output["succeeded"] == ["good"]
    assert output["devices"]["good"]["digestVerified"] is True
    assert output["failed"] == [
        {
            "deviceId": "tampered",
            "status": "rejected",
            "reason": "download refused by storage: HTTP 403",
        }
    ]
