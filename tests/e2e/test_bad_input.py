"""Malformed and hostile requests against every endpoint: each gets its documented 4xx with a
JSON error body, and the runtime keeps serving.

Documented answers: the app's starters answer 400 ``{"error", "field"}`` for a bad body or
``?instanceId=`` (README.md) and 409 for a running id; the Durable HTTP API answers as the
extension does (spec §6): 400 for invalid arguments (HttpError JSON), 404 for unknown
instances and routes, 410 for instances that finished, 413 over the body size limit.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from devtools.durable_client import DurableClient, with_key
from devtools.host_process import LocalHost
from devtools.target import RemoteTarget

from .conftest import REMOTE

API = "/runtime/webhooks/durabletask"
JSON = {"Content-Type": "application/json"}
PARENT = "parent_workflow_orchestrator"
LONG_ID = "x" * 300
SYNC = "/api/start-sub-orchestration"
DEVICES = "/api/provision-devices"
ORCH = f"{API}/orchestrators"
INST = f"{API}/instances"
RUNNING_ACK = f"{INST}/{{running}}/raiseEvent/DownloadCompletedAck"
ACKS = "/api/acks"
RUNS = "/api/runs"
#: Shaped like a token (payload "v1\nrun-1:device:d\nDownloadCompletedAck\n4102444800"), but
#: signed with nobody's key.
FORGED = "djEKcnVuLTE6ZGV2aWNlOmQKRG93bmxvYWRDb21wbGV0ZWRBY2sKNDEwMjQ0NDgwMA." + "A" * 43
DONE = f"{INST}/{{done}}"


@dataclass(frozen=True)
class Case:
    name: str
    method: str
    path: str  # raw, already percent-encoded; {running} and {done} are filled in
    expected: int
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    #: "app" (the app's {"error", "field"}), "error" (the app's {"error", ...}), "host"
    #: (HttpError) or "any" JSON value.
    shape: str = "host"


def app(name: str, path: str, body: bytes, expected: int = 400) -> Case:
    """A starter request the app itself rejects with ``{"error", "field"}``."""
    return Case(name, "POST", path, expected, body, JSON, "app")


CASES: list[Case] = [
    # ---- the starters: bad JSON, wrong types, hostile ids, huge bodies -------------------
    app("sync: truncated JSON", SYNC, b'{"skus": ['),
    app("sync: JSON array", SYNC, b"[1, 2]"),
    app("sync: JSON string", SYNC, b'"sync"'),
    app("sync: not UTF-8", SYNC, b"\xff\xfe\x00{"),
    Case("sync: form body", "POST", SYNC, 400, b"customer_id=c1&skus=a",
         {"Content-Type": "application/x-www-form-urlencoded"}, "app"),
    app("sync: unknown field", SYNC, b'{"customerId": "c"}'),
    app("sync: customer_id number", SYNC, b'{"customer_id": 1001}'),
    app("sync: customer_id traversal", SYNC, b'{"customer_id": "../../etc/passwd"}'),
    app("sync: customer_id unicode", SYNC, "{\"customer_id\": \"kunde-\u00e4\u00f6\"}".encode()),
    app("sync: segment control chars", SYNC, b'{"customer_segment": "a\\u0000b"}'),
    app("sync: skus not a list", SYNC, b'{"skus": "SKU-1"}'),
    app("sync: skus empty", SYNC, b'{"skus": []}'),
    app("sync: duplicate skus", SYNC, b'{"skus": ["a", "a"]}'),
    app("sync: sku null", SYNC, b'{"skus": [null]}'),
    app("sync: ackTimeoutSeconds string", SYNC, b'{"ackTimeoutSeconds": "5"}'),
    app("sync: ackTimeoutSeconds bool", SYNC, b'{"ackTimeoutSeconds": true}'),
    app("sync: ackTimeoutSeconds 0", SYNC, b'{"ackTimeoutSeconds": 0}'),
    app("sync: ackTimeoutSeconds float", SYNC, b'{"ackTimeoutSeconds": 1.5}'),
    app("sync: ackTimeoutSeconds huge", SYNC, b'{"ackTimeoutSeconds": 1e309}'),
    app("sync: 2 MB body", SYNC, b'{"customer_segment": "' + b"a" * (2 * 1024 * 1024) + b'"}'),
    Case("sync: 17 MB body (host limit)", "POST", SYNC, 413,
         b"[" + b"0," * (17 * 512 * 1024) + b"0]", JSON),
    app("devices: deviceIds object", DEVICES, b'{"deviceIds": {"a": 1}}'),
    app("devices: deviceId number", DEVICES, b'{"deviceIds": [7]}'),
    app("devices: deviceId with slash", DEVICES, b'{"deviceIds": ["a/b"]}'),
    app("devices: deviceId 65 chars", DEVICES, json.dumps({"deviceIds": ["d" * 65]}).encode()),
    app("devices: 501 devices", DEVICES, json.dumps({"deviceIds": [f"d{n}" for n in range(501)]})
        .encode()),
    app("devices: instanceId ../", f"{DEVICES}?instanceId=../../x", b"{}"),
    app("devices: instanceId %2F", f"{DEVICES}?instanceId=a%2Fb", b"{}"),
    app("devices: instanceId control char", f"{DEVICES}?instanceId=a%01b", b"{}"),
    app("devices: instanceId newline", f"{DEVICES}?instanceId=a%0D%0Ab", b"{}"),
    app("devices: instanceId unicode", f"{DEVICES}?instanceId=%E2%98%83", b"{}"),
    app("devices: instanceId 300 chars", f"{DEVICES}?instanceId={LONG_ID}", b"{}"),
    app("devices: instanceId of a running run", f"{DEVICES}?instanceId={{running}}", b"{}", 409),
    Case("starter: GET instead of POST", "GET", SYNC, 404),
    # ---- the ack route (anonymous) and the cancel route ----------------------------------
    Case("ack: garbage token", "POST", f"{ACKS}/not-a-token", 403, b'{"ok": true}', JSON, "error"),
    Case("ack: forged token", "POST", f"{ACKS}/{FORGED}", 403, b'{"ok": true}', JSON, "error"),
    Case("ack: 2000-char token", "POST", f"{ACKS}/{'t' * 2000}", 403, b"{}", JSON, "error"),
    Case("ack: traversal token", "POST", f"{ACKS}/..%2F..%2Fadmin", 403, b"{}", JSON, "error"),
    Case("ack: forged token, bad body", "POST", f"{ACKS}/{FORGED}", 403, b"\xff", JSON, "error"),
    Case("ack: GET instead of POST", "GET", f"{ACKS}/{FORGED}", 404),
    Case("ack: no token", "POST", f"{ACKS}/", 404, b"{}", JSON),
    app("cancel: a child's id", f"{RUNS}/{{running}}:customer-sync/cancel", b""),
    app("cancel: id with space", f"{RUNS}/a%20b/cancel", b""),
    app("cancel: 300-char id", f"{RUNS}/{LONG_ID}/cancel", b""),
    app("cancel: body not JSON", f"{RUNS}/{{running}}/cancel", b"stop it"),
    app("cancel: unknown field", f"{RUNS}/{{running}}/cancel", b'{"why": "x"}'),
    app("cancel: reason not a string", f"{RUNS}/{{running}}/cancel", b'{"reason": 5}'),
    Case("cancel: unknown run", "POST", f"{RUNS}/no-such-run/cancel", 404, b"", JSON, "error"),
    Case("cancel: GET instead of POST", "GET", f"{RUNS}/{{running}}/cancel", 404),
    Case("unknown function", "POST", "/api/no-such-function", 404, b"{}", JSON),
    # ---- the Durable HTTP API: starting orchestrations -----------------------------------
    Case("start: unknown orchestrator", "POST", f"{ORCH}/no_such_orchestrator", 400, b"{}", JSON),
    Case("start: activity is not an orchestrator", "POST", f"{ORCH}/send_package_to_device",
         400, b"{}", JSON),
    Case("start: invalid JSON", "POST", f"{ORCH}/{PARENT}", 400, b"{mode: sync}", JSON),
    Case("start: id with control char", "POST", f"{ORCH}/{PARENT}/bad%07id", 400),
    Case("start: id starting with @", "POST", f"{ORCH}/{PARENT}/@entity", 400),
    Case("start: id with %2F", "POST", f"{ORCH}/{PARENT}/a%2Fb", 400),
    Case("start: id with ?", "POST", f"{ORCH}/{PARENT}/a%3Fb", 400),
    Case("start: id of 300 chars", "POST", f"{ORCH}/{PARENT}/{LONG_ID}", 400),
    Case("start: timeout not a number", "POST", f"{ORCH}/{PARENT}?timeout=soon", 400),
    Case("start: other task hub", "POST", f"{ORCH}/{PARENT}?taskHub=OtherHub", 400),
    # ---- status, listing and purging -----------------------------------------------------
    Case("status: unknown instance", "GET", f"{INST}/no-such-instance", 404),
    Case("status: traversal id", "GET", f"{INST}/..%2F..%2Fetc%2Fpasswd", 404),
    Case("status: raw ../ segments", "GET", f"{INST}/../../../etc/passwd", 404),
    Case("status: NUL id", "GET", f"{INST}/%00", 404),
    Case("terminate: control-char id", "POST", f"{INST}/%1B%5B2J/terminate", 404),
    Case("status: unicode id", "GET", f"{INST}/%E2%98%83%F0%9F%98%80", 404),
    Case("status: 300-char id", "GET", f"{INST}/{LONG_ID}", 404),
    Case("list: unknown runtimeStatus", "GET", f"{API}/instances?runtimeStatus=Exploded", 400),
    Case("list: bad createdTimeFrom", "GET", f"{API}/instances?createdTimeFrom=yesterday", 400),
    Case("list: top not a number", "GET", f"{API}/instances?top=all", 400),
    Case("list: top zero", "GET", f"{API}/instances?top=0", 400),
    Case("list: bad continuation token", "GET", f"{API}/instances", 400, None,
         {"x-ms-continuation-token": "%%%not-a-token"}),
    Case("purge by filter without createdTimeFrom", "DELETE", f"{API}/instances", 400, shape="any"),
    Case("purge: unknown instance", "DELETE", f"{INST}/no-such-instance", 404),
    # ---- management operations -----------------------------------------------------------
    Case("terminate: unknown instance", "POST", f"{INST}/no-such-instance/terminate", 404),
    Case("suspend: unknown instance", "POST", f"{INST}/no-such-instance/suspend", 404),
    Case("resume: unknown instance", "POST", f"{INST}/no-such-instance/resume", 404),
    Case("rewind: unknown instance", "POST", f"{INST}/no-such-instance/rewind", 404),
    Case("restart: unknown instance", "POST", f"{INST}/no-such-instance/restart", 400),
    Case("terminate: finished instance", "POST", f"{DONE}/terminate", 410),
    Case("suspend: finished instance", "POST", f"{DONE}/suspend", 410),
    Case("unknown operation", "POST", f"{INST}/{{running}}/explode", 404),
    Case("wrong method on instances", "PUT", f"{INST}/{{running}}", 404, b"{}", JSON),
    Case("unknown Durable API route", "GET", f"{API}/no/such/route", 404),
    # ---- raising events ------------------------------------------------------------------
    Case("raise: text/plain", "POST", RUNNING_ACK, 400,
         b'{"ok": true}', {"Content-Type": "text/plain"}),
    Case("raise: no content type", "POST", RUNNING_ACK,
         400, b'{"ok": true}', {"Content-Type": ""}),
    Case("raise: form content type", "POST", RUNNING_ACK,
         400, b"ok=true", {"Content-Type": "application/x-www-form-urlencoded"}),
    Case("raise: invalid JSON", "POST", RUNNING_ACK, 400,
         b'{"ok": tru', JSON),
    Case("raise: not UTF-8", "POST", RUNNING_ACK, 400,
         b"\xc3\x28", JSON),
    Case("raise: 17 MB body", "POST", RUNNING_ACK, 413,
         b'"' + b"a" * (17 * 1024 * 1024) + b'"', JSON),
    Case("raise: unknown instance", "POST", f"{INST}/nobody/raiseEvent/DownloadCompletedAck",
         404, b'{"ok": true}', JSON),
    Case("raise: unknown event, unknown instance", "POST", f"{INST}/nobody/raiseEvent/NoSuchEvent",
         404, b"{}", JSON),
    Case("raise: traversal id", "POST", f"{INST}/..%2F..%2Fadmin/raiseEvent/DownloadCompletedAck",
         404, b"{}", JSON),
    Case("raise: finished instance", "POST", f"{DONE}/raiseEvent/DownloadCompletedAck",
         410, b'{"ok": true}', JSON),
    Case("raise: unknown event, finished instance", "POST", f"{DONE}/raiseEvent/Nope",
         410, b"{}", JSON),
    Case("raise: no event name", "POST", f"{INST}/{{running}}/raiseEvent/", 404, b"{}", JSON),
    Case("raise: RPC surface, invalid JSON", "POST",
         "/durabletask/instances/{running}/raiseEvent/DownloadCompletedAck", 400, b"{", JSON),
    Case("raise: 300-char id, wrong method", "PATCH", f"{INST}/{LONG_ID}/raiseEvent/x", 404),
]  # fmt: skip


def _http(base: str, method: str, path: str, body: bytes | None = None) -> tuple[int, Any]:
    if REMOTE is not None:
        path = with_key(path, REMOTE.function_key, REMOTE.system_key)
    request = urllib.request.Request(base + path, data=body, method=method, headers=JSON)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read()
            return response.status, json.loads(text) if text else None
    except urllib.error.HTTPError as error:
        return error.code, None


@pytest.fixture(scope="module")
def targets(host: LocalHost | RemoteTarget) -> Iterator[dict[str, str]]:
    """A running parent (long ack window) and a finished (terminated) one."""
    status, running = _http(host.base_url, "POST", SYNC, b"{}")
    assert status == 202
    status, done = _http(host.base_url, "POST", SYNC, b"{}")
    assert status == 202
    assert _http(host.base_url, "POST", f"{INST}/{done['id']}/terminate")[0] == 202
    deadline = time.monotonic() + 20
    while _http(host.base_url, "GET", f"{INST}/{done['id']}")[1]["runtimeStatus"] != "Terminated":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    yield {"running": running["id"], "done": done["id"]}


def test_there_are_at_least_forty_cases() -> None:
    assert len(CASES) >= 40
    assert len({case.name for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
async def test_malformed_request_gets_its_documented_4xx(
    case: Case, client: DurableClient, targets: dict[str, str]
) -> None:
    if REMOTE is not None and case.shape in ("host", "any"):
        pytest.skip(
            "durable-local's answer (the extension's error bodies are empty, its body limit "
            "is the host's); DEVICE_SYNC_HOST_URL points the suite at another host"
        )
    path = case.path.replace("{running}", targets["running"]).replace("{done}", targets["done"])
    response = await client.request(case.method, path, data=case.body, headers=case.headers)
    assert response.status == case.expected, (case.name, response)
    assert response.headers.get("Content-Type", "").startswith("application/json"), response
    assert response.body is not None, f"{case.name}: not a JSON body: {response.text[:200]!r}"
    if case.shape in ("app", "error"):
        assert isinstance(response.body.get("error"), str), response
        assert case.shape == "error" or "field" in response.body
    elif case.shape == "host":
        assert isinstance(response.body.get("Message"), str), response


async def test_unknown_event_on_a_running_instance_is_accepted(
    client: DurableClient, targets: dict[str, str]
) -> None:
    # Not an error on the real host either: the event is kept in the history (spec §7.3).
    response = await client.raise_event(targets["running"], {"x": 1}, event="NobodyWaitsForThis")
    assert response.status == 202
    status = await client.status(targets["running"])
    assert status.body["runtimeStatus"] == "Running"


async def test_the_runtime_still_serves_afterwards(
    client: DurableClient, host: LocalHost | RemoteTarget, targets: dict[str, str]
) -> None:
    assert host.running
    started = await client.start_sync({"ackTimeoutSeconds": 1})
    assert started.status == 202, started
    final = await client.wait_for(started.body["id"], timeout=30)
    assert final["runtimeStatus"] == "Completed"
    assert final["output"]["customer"]["status"] == "timed_out"
    # No request above reached the "unexpected exception" branch of the error middleware.
    assert "Unhandled error" not in host.log_text()
