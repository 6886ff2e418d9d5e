"""HTTP starters against a small in-test durable RPC endpoint, over real HTTP.

The starter's user function gets a real ``azure.functions.HttpRequest`` and the durable-client
binding JSON the host passes (spec section 5.1); its ``rpcBaseUrl`` points at an aiohttp
server in the test that answers ``GET instances/{id}`` and ``POST orchestrators/{name}[/{id}]``
the way the Durable extension does, and records every request.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import azure.functions as func
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from azure.durable_functions.models.utils import http_utils

from tests.helpers.client_binding import BASE, QUERY, binding


@dataclass
class FakeDurableRpc:
    """Instances by id -> runtime status, and the requests the SDK client made."""

    statuses: dict[str, str] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)
    generated: int = 0
    #: Ids another client starts right after our first status lookup (a lost race).
    taken_after_lookup: set[str] = field(default_factory=set)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/durabletask/instances/{id}", self.get_status)
        app.router.add_post("/durabletask/orchestrators/{name}", self.start)
        app.router.add_post("/durabletask/orchestrators/{name}/{id}", self.start)
        return app

    async def _record(self, request: web.Request) -> None:
        body = await request.text()
        self.requests.append({"method": request.method, "path": request.path, "body": body or None})

    async def get_status(self, request: web.Request) -> web.Response:
        await self._record(request)
        instance_id = request.match_info["id"]
        status = self.statuses.get(instance_id)
        if instance_id in self.taken_after_lookup:
            self.taken_after_lookup.discard(instance_id)
            self.statuses[instance_id] = "Running"
        if status is None:
            return web.Response(status=404)  # the extension answers 404 with an empty body
        running = status in {"Pending", "Running", "Suspended", "ContinuedAsNew"}
        payload = {
            "name": "parent_workflow_orchestrator",
            "instanceId": instance_id,
            "runtimeStatus": status,
            "input": None,
            "customStatus": None,
            "output": None,
            "createdTime": "2024-05-01T12:00:00Z",
            "lastUpdatedTime": "2024-05-01T12:00:05Z",
        }
        return web.json_response(payload, status=202 if running else 200)

    async def start(self, request: web.Request) -> web.Response:
        await self._record(request)
        instance_id = request.match_info.get("id")
        if instance_id is None:
            self.generated += 1
            instance_id = f"{self.generated:032x}"
        if self.statuses.get(instance_id) in {"Pending", "Running", "Suspended"}:
            # What the Azure Storage backend does for a running instance (spec section 7.2).
            return web.json_response(
                {
                    "Message": "Something went wrong while processing your request",
                    "ExceptionMessage": "An Orchestration instance with the status Running "
                    "already exists.",
                },
                status=500,
            )
        self.statuses[instance_id] = "Pending"
        return web.json_response({"id": instance_id}, status=202)

    def starts(self) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["path"].startswith("/durabletask/orchestrators/")]


@pytest.fixture
async def rpc() -> AsyncIterator[tuple[FakeDurableRpc, str]]:
    fake = FakeDurableRpc()
    server = TestServer(fake.app(), host="127.0.0.1")
    await server.start_server()
    try:
        yield fake, f"http://127.0.0.1:{server.port}/durabletask/"
    finally:
        # The SDK keeps one module-wide aiohttp session; close it on this test's loop.
        await http_utils._close_session()
        await server.close()


Starter = Callable[..., Any]


@dataclass
class Answer:
    status: int
    body: Any
    headers: dict[str, str]


async def call(
    user_function: Callable[[str], Any],
    name: str,
    rpc_base_url: str,
    body: bytes = b"",
    params: dict[str, str] | None = None,
) -> Answer:
    route = "start-sub-orchestration" if name == "start_sub_orchestration" else "provision-devices"
    request = func.HttpRequest(
        method="POST",
        url=f"http://localhost:7071/api/{route}",
        headers={"Content-Type": "application/json"},
        params=params or {},
        route_params={},
        body=body,
    )
    response = await user_function(name)(req=request, client=binding(rpc_base_url))
    assert isinstance(response, func.HttpResponse)
    text = response.get_body().decode()
    return Answer(response.status_code, json.loads(text) if text else None, dict(response.headers))


SYNC = "start_sub_orchestration"
DEVICES = "provision_devices"


# ---- happy paths ------------------------------------------------------------------------------


async def test_sync_start_with_defaults_answers_202_check_status(
    user_function: Callable[[str], Any], rpc: tuple[FakeDurableRpc, str]
) -> None:
    fake, url = rpc
    answer = await call(user_function, SYNC, url)
    assert answer.status == 202
    instance_id = answer.body["id"]
    assert answer.body["statusQueryGetUri"] == f"{BASE}/instances/{instance_id}?{QUERY}"
    assert answer.headers["Location"] == answer.body["statusQueryGetUri"]
    [start] = fake.starts()
    assert start["path"] == "/durabletask/orchestrators/parent_workflow_orchestrator"
    # The SDK client double-encodes the input (JSON of the JSON text).
    assert json.loads(json.loads(start["body"])) == {
        "mode": "sync",
        "customerId": "cust-1001",
        "customerSegment": "enterprise",
        "skus": ["SKU-100", "SKU-200"],
        "ackTimeoutSeconds": 900,
        # where the starter was called: the ack links' base when no setting names one
        "ackBaseUrl": "http://localhost:7071/api",
    }
    # No instanceId given: nothing to look up first.
    assert not [r for r in fake.requests if r["method"] == "GET"]


async def test_sync_start_with_body_and_instance_id(
    user_function: Callable[[str], Any], rpc: tuple[FakeDurableRpc, str]
) -> None:
    fake, url = rpc
    body = {"customer_id": "cust-7", "customer_segment": "smb", "skus": ["A-1"]}
    answer = await call(
        user_function, SYNC, url, json.dumps(body).encode(), {"instanceId": "sync-7"}
    )
    assert answer.status == 202
    assert answer.body["id"] == "sync-7"
    get, start = fake.requests
    assert (get["method"], get["path"]) == ("GET", "/durabletask/instances/sync-7")
    assert start["path"] == "/durabletask/orchestrators/parent_workflow_orchestrator/sync-7"
    sent = json.loads(json.loads(start["body"]))
    assert (sent["customerId"], sent["customerSegment"], sent["skus"]) == ("cust-7", "smb", ["A-1"])


async def test_devices_start_passes_ids_and_ack_timeout(
    user_function: Callable[[str], Any], rpc: tuple[FakeDurableRpc, str]
) -> None:
    fake, url = rpc
    body = {"deviceIds": ["dev-1", "dev-2"], "ackTimeoutSeconds": 30}
    answer = await call(user_function, DEVICES, url, json.dumps(body).encode())
    assert answer.status == 202
    [start] = fake.starts()
    assert json.loads(json.loads(start["body"])) == {
        "mode": "devices",
        "deviceIds": ["dev-1", "dev-2"],
        "ackTimeoutSeconds": 30,
        "ackBaseUrl": "http://localhost:7071/api",
    }


async def test_devices_start_without_ids_uses_configuration_and_setting_timeout(
    user_function: Callable[[str], Any],
    rpc: tuple[FakeDurableRpc, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ACK_TIMEOUT_SECONDS", "45")
    fake, url = rpc
    answer = await call(user_function, DEVICES, url, b"{}")
    assert answer.status == 202
    [start] = fake.starts()
    assert json.loads(json.loads(start["body"])) == {
        "mode": "devices",
        "ackTimeoutSeconds": 45,
        "ackBaseUrl": "http://localhost:7071/api",
    }


# ---- 409: the singleton rule ----------------------------------------------------------------


@pytest.mark.parametrize("status", ["Pending", "Running", "Suspended"])
@pytest.mark.parametrize("starter", [SYNC, DEVICES])
async def test_active_instance_id_is_refused_with_409(
    user_function: Callable[[str], Any],
    rpc: tuple[FakeDurableRpc, str],
    starter: str,
    status: str,
) -> None:
    fake, url = rpc
    fake.statuses["busy-1"] = status
    answer = await call(user_function, starter, url, b"", {"instanceId": "busy-1"})
    assert answer.status == 409
    assert answer.body["field"] == "instanceId"
    assert answer.body["runtimeStatus"] == status
    assert status in answer.body["error"]
    assert fake.starts() == []  # nothing was started


@pytest.mark.parametrize("status", ["Completed", "Failed", "Terminated"])
async def test_finished_instance_id_may_be_reused(
    user_function: Callable[[str], Any], rpc: tuple[FakeDurableRpc, str], status: str
) -> None:
    fake, url = rpc
    fake.statuses["done-1"] = status
    answer = await call(user_function, SYNC, url, b"", {"instanceId": "done-1"})
    assert answer.status == 202
    assert answer.body["id"] == "done-1"
    assert len(fake.starts()) == 1


async def test_lost_race_with_a_concurrent_start_is_a_409(
    user_function: Callable[[str], Any], rpc: tuple[FakeDurableRpc, str]
) -> None:
    fake, url = rpc
    # Another starter takes the id between our status lookup and our start: the host then
    # refuses the start (HTTP 500), and the starter reports the conflict as a 409.
    fake.taken_after_lookup.add("race-1")
    answer = await call(user_function, SYNC, url, b"", {"instanceId": "race-1"})
    assert answer.status == 409
    assert answer.body["runtimeStatus"] == "Running"
    assert [r["method"] for r in fake.requests] == ["GET", "POST", "GET"]


# ---- 400: validation ------------------------------------------------------------------------

TOO_LONG = "x" * 65


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"{not json", "body"),
        (b"[1, 2]", "body"),
        (b'"a string"', "body"),
        (b"null", "body"),
        (b"\xff\xfe", "body"),
        (json.dumps({"customer_id": 17}).encode(), "customer_id"),
        (json.dumps({"customer_id": ""}).encode(), "customer_id"),
        (json.dumps({"customer_id": TOO_LONG}).encode(), "customer_id"),
        (json.dumps({"customer_id": "cust/1001"}).encode(), "customer_id"),
        (json.dumps({"customer_segment": ""}).encode(), "customer_segment"),
        (json.dumps({"customer_segment": "   "}).encode(), "customer_segment"),
        (json.dumps({"customer_segment": "s" * 65}).encode(), "customer_segment"),
        (json.dumps({"customer_segment": ["enterprise"]}).encode(), "customer_segment"),
        (json.dumps({"customer_segment": "bad\u0007bell"}).encode(), "customer_segment"),
        (json.dumps({"skus": "SKU-100"}).encode(), "skus"),
        (json.dumps({"skus": []}).encode(), "skus"),
        (json.dumps({"skus": ["SKU-100", 5]}).encode(), "skus[1]"),
        (json.dumps({"skus": ["SKU 100"]}).encode(), "skus[0]"),
        (json.dumps({"skus": ["SKU-1", "SKU-1"]}).encode(), "skus[1]"),
        (json.dumps({"customerId": "cust-1"}).encode(), "customerId"),
        (json.dumps({"ackTimeoutSeconds": 0}).encode(), "ackTimeoutSeconds"),
    ],
)
async def test_sync_validation_errors(
    user_function: Callable[[str], Any],
    rpc: tuple[FakeDurableRpc, str],
    body: bytes,
    field: str,
) -> None:
    fake, url = rpc
    answer = await call(user_function, SYNC, url, body)
    assert answer.status == 400, answer.body
    assert answer.body["field"] == field
    assert isinstance(answer.body["error"], str) and answer.body["error"]
    assert fake.requests == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"{", "body"),
        (b"42", "body"),
        (json.dumps({"deviceIds": "dev-1"}).encode(), "deviceIds"),
        (json.dumps({"deviceIds": [1]}).encode(), "deviceIds[0]"),
        (json.dumps({"deviceIds": [""]}).encode(), "deviceIds[0]"),
        (json.dumps({"deviceIds": [TOO_LONG]}).encode(), "deviceIds[0]"),
        (json.dumps({"deviceIds": ["../etc"]}).encode(), "deviceIds[0]"),
        (json.dumps({"deviceIds": ["dev:1"]}).encode(), "deviceIds[0]"),
        (json.dumps({"deviceIds": ["dev-1", "dev-2", "dev-1"]}).encode(), "deviceIds[2]"),
        (json.dumps({"ackTimeoutSeconds": 0}).encode(), "ackTimeoutSeconds"),
        (json.dumps({"ackTimeoutSeconds": 604_801}).encode(), "ackTimeoutSeconds"),
        (json.dumps({"ackTimeoutSeconds": "60"}).encode(), "ackTimeoutSeconds"),
        (json.dumps({"ackTimeoutSeconds": 1.5}).encode(), "ackTimeoutSeconds"),
        (json.dumps({"ackTimeoutSeconds": True}).encode(), "ackTimeoutSeconds"),
        (json.dumps({"devices": ["dev-1"]}).encode(), "devices"),
    ],
)
async def test_devices_validation_errors(
    user_function: Callable[[str], Any],
    rpc: tuple[FakeDurableRpc, str],
    body: bytes,
    field: str,
) -> None:
    fake, url = rpc
    answer = await call(user_function, DEVICES, url, body)
    assert answer.status == 400, answer.body
    assert answer.body["field"] == field
    assert fake.requests == []


async def test_more_devices_than_the_configured_maximum(
    user_function: Callable[[str], Any],
    rpc: tuple[FakeDurableRpc, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, url = rpc
    monkeypatch.setenv("MAX_DEVICES_PER_RUN", "3")
    four = json.dumps({"deviceIds": ["d1", "d2", "d3", "d4"]}).encode()
    answer = await call(user_function, DEVICES, url, four)
    assert (answer.status, answer.body["field"]) == (400, "deviceIds")
    assert "maximum is 3" in answer.body["error"]
    three = json.dumps({"deviceIds": ["d1", "d2", "d3"]}).encode()
    assert (await call(user_function, DEVICES, url, three)).status == 202


async def test_default_maximum_is_500_devices(
    user_function: Callable[[str], Any], rpc: tuple[FakeDurableRpc, str]
) -> None:
    _, url = rpc
    ids = [f"dev-{i}" for i in range(501)]
    answer = await call(user_function, DEVICES, url, json.dumps({"deviceIds": ids}).encode())
    assert (answer.status, answer.body["field"]) == (400, "deviceIds")
    answer = await call(user_function, DEVICES, url, json.dumps({"deviceIds": ids[:500]}).encode())
    assert answer.status == 202


@pytest.mark.parametrize("starter", [SYNC, DEVICES])
async def test_body_over_one_mebibyte_is_refused(
    user_function: Callable[[str], Any], rpc: tuple[FakeDurableRpc, str], starter: str
) -> None:
    fake, url = rpc
    body = b'{"pad": "' + b"x" * (1024 * 1024) + b'"}'
    answer = await call(user_function, starter, url, body)
    assert (answer.status, answer.body["field"]) == (400, "body")
    assert "larger than" in answer.body["error"]
    assert fake.requests == []


@pytest.mark.parametrize("starter", [SYNC, DEVICES])
@pytest.mark.parametrize(
    "instance_id", ["has space", "a/b", "x" * 65, "bad:colon", "@entity", "caf\u00e9"]
)
async def test_invalid_instance_id_is_refused(
    user_function: Callable[[str], Any],
    rpc: tuple[FakeDurableRpc, str],
    starter: str,
    instance_id: str,
) -> None:
    fake, url = rpc
    answer = await call(user_function, starter, url, b"", {"instanceId": instance_id})
    assert (answer.status, answer.body["field"]) == (400, "instanceId")
    assert fake.requests == []


async def test_broken_app_setting_is_a_500_json_error(
    user_function: Callable[[str], Any],
    rpc: tuple[FakeDurableRpc, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake, url = rpc
    monkeypatch.setenv("ACK_TIMEOUT_SECONDS", "soon")
    answer = await call(user_function, SYNC, url)
    assert answer.status == 500
    assert answer.body["field"] == "ACK_TIMEOUT_SECONDS"
    assert fake.requests == []


@pytest.mark.parametrize("starter", [SYNC, DEVICES])
async def test_no_ack_signing_key_is_a_500_and_starts_nothing(
    user_function: Callable[[str], Any],
    rpc: tuple[FakeDurableRpc, str],
    monkeypatch: pytest.MonkeyPatch,
    starter: str,
) -> None:
    fake, url = rpc
    monkeypatch.setenv("ACK_SIGNING_KEY", "@Microsoft.KeyVault(SecretUri=https://kv/secrets/k)")
    answer = await call(user_function, starter, url)
    assert answer.status == 500
    assert answer.body["field"] == "ACK_SIGNING_KEY"
    assert "unresolved Key Vault reference" in answer.body["error"]
    assert "kv/secrets" not in answer.body["error"]
    assert fake.requests == []
