"""The SDK's own DurableOrchestrationClient, inside HTTP functions of the fixture app, calling
this server's RPC surface (spec §5.3): every client API used by real apps."""

from __future__ import annotations

import json
from typing import Any

from durable_local.model import RuntimeStatus
from tests.helpers.host import Host


async def op(host: Host, op_name: str, target: str | None = None, **body: Any) -> Any:
    path = f"/api/client/{op_name}" + (f"/{target}" if target else "")
    response = await host.client.post(path, json=body)
    payload = await response.json()
    assert response.status == 200, payload
    return payload


async def op_error(host: Host, op_name: str, target: str | None = None, **body: Any) -> str:
    """An SDK call that is expected to raise; returns the exception text."""
    path = f"/api/client/{op_name}" + (f"/{target}" if target else "")
    response = await host.client.post(path, json=body)
    payload = await response.json()
    assert response.status == 418, payload
    return str(payload["error"])


async def test_http_starter_uses_the_sdk_check_status_response(host: Host) -> None:
    response = await host.client.post("/api/orchestrators/hello_sequence", json="Paris")
    assert response.status == 202
    body = await response.json()
    origin = f"http://{response.url.host}:{response.url.port}"
    # The SDK's create_check_status_response keeps rewindPostUri and rebases on the request.
    assert body["rewindPostUri"].startswith(f"{origin}/runtime/webhooks/durabletask/instances/")
    assert response.headers["Location"] == body["statusQueryGetUri"]
    status = await host.finished(body["id"])
    assert status["output"] == ["Hello Tokyo!", "Hello Seattle!", "Hello Paris!"]
    # start_new double-encodes: the stored input is the JSON text (spec §4.3).
    assert status["input"] == '"Paris"'


async def test_binding_points_at_this_server(host: Host) -> None:
    response = await host.client.get("/api/binding")
    binding = await response.json()
    origin = f"http://{response.url.host}:{response.url.port}"
    assert binding["taskHubName"] == "HostTestHub"
    assert binding["rpcBaseUrl"] == f"{origin}/durabletask/"
    assert binding["managementUrls"]["id"] == "INSTANCEID"
    assert binding["payload"]["id"] == "abc"
    assert binding["payload"]["statusQueryGetUri"] == (
        f"{origin}/runtime/webhooks/durabletask/instances/abc"
        "?taskHub=HostTestHub&connection=Storage"
    )


async def test_start_new_and_get_status_with_history(host: Host) -> None:
    started = await op(host, "start", name="hello_sequence", input="Oslo")
    instance_id = started["id"]
    await host.finished(instance_id)
    status = await op(host, "status", instance_id)
    assert status["exists"] is True
    assert status["runtimeStatus"] == "Completed"
    assert status["output"] == ["Hello Tokyo!", "Hello Seattle!", "Hello Oslo!"]
    assert status["input"] == '"Oslo"'
    assert status["history"] is None  # the SDK keeps the server's key as historyEvents (§9.3)
    kinds = [event["EventType"] for event in status["historyEvents"]]
    assert kinds.count("TaskCompleted") == 3
    results = [
        e.get("Result") for e in status["historyEvents"] if e["EventType"] == "TaskCompleted"
    ]
    assert results == ["Hello Tokyo!", "Hello Seattle!", "Hello Oslo!"]


async def test_start_new_with_instance_id_and_duplicate(host: Host) -> None:
    assert (await op(host, "start", name="wait_approval", instance_id="sdk-1"))["id"] == "sdk-1"
    await host.idle()
    error = await op_error(host, "start", name="wait_approval", instance_id="sdk-1")
    assert "already exists" in error
    error = await op_error(host, "start", name="no_such_orchestrator")
    assert "no_such_orchestrator" in error


async def test_get_status_of_missing_instance_is_falsy(host: Host) -> None:
    assert await op(host, "status_plain", "ghost") == {"exists": False}


async def test_raise_event_is_double_encoded_like_the_real_host(host: Host) -> None:
    await op(host, "start", name="wait_approval", instance_id="ev", input={"k": 1})
    await host.idle()
    assert await op(host, "raise", "ev", event="Approval", data={"ok": True}) == {"ok": True}
    status = await host.finished("ev")
    # Known SDK issue #295, reproduced faithfully: the orchestrator sees the JSON text.
    assert status["output"] == {"approval": json.dumps({"ok": True}), "input": {"k": 1}}
    error = await op_error(host, "raise", "ev", event="Approval", data=1)
    assert "ev" in error  # 410: the SDK raises "Instance with ID ... is gone"
    error = await op_error(host, "raise", "nobody", event="Approval")
    assert "nobody" in error  # 404


async def test_terminate_suspend_resume(host: Host) -> None:
    await op(host, "start", name="wait_approval", instance_id="life")
    await host.idle()
    await op(host, "suspend", "life", reason="hold")
    await host.idle()
    assert (await op(host, "status_plain", "life"))["runtimeStatus"] == "Suspended"
    await op(host, "resume", "life", reason="go")
    await host.idle()
    assert (await op(host, "status_plain", "life"))["runtimeStatus"] == "Running"
    await op(host, "terminate", "life", reason="done here")
    status = await host.finished("life")
    assert status["runtimeStatus"] == "Terminated"
    assert status["output"] == "done here"
    # 410 is fine for the SDK on terminate; 404 raises.
    assert await op(host, "terminate", "life") == {"ok": True}
    assert "ghost" in await op_error(host, "terminate", "ghost")


async def test_rewind(host: Host) -> None:
    host.loaded.module.FLAKY_CALLS["count"] = 0
    started = await op(host, "start", name="flaky_flow")
    await host.finished(started["id"])
    assert (await op(host, "status_plain", started["id"]))["runtimeStatus"] == "Failed"
    await op(host, "rewind", started["id"], reason="try again")
    await host.idle()
    status = await host.finished(started["id"], RuntimeStatus.COMPLETED)
    assert status["output"] == "recovered"


async def test_restart_returns_the_check_status_body(host: Host) -> None:
    await op(host, "start", name="hello_sequence", instance_id="base", input="Rio")
    await host.finished("base")
    result = (await op(host, "restart", "base"))["result"]
    assert isinstance(result, dict) and result["id"] != "base"  # spec §9.4
    status = await host.finished(result["id"])
    assert status["output"][-1] == "Hello Rio!"
    same = (await op(host, "restart", "base", new_id=False))["result"]
    assert same["id"] == "base"
    # EXT answers 400 for an unknown id; the SDK does not map it (spec §9.18).
    assert "400" in await op_error(host, "restart", "ghost")


async def test_get_status_all_and_by(host: Host) -> None:
    await op(host, "start", name="hello_sequence", instance_id="a-done")
    host.clock.advance(120)
    await op(host, "start", name="wait_approval", instance_id="b-waiting")
    await host.idle()
    await host.finished("a-done")
    assert await op(host, "status_all") == ["a-done", "b-waiting"]
    assert await op(host, "status_by", status=["Running"]) == ["b-waiting"]
    assert await op(host, "status_by", **{"from": "2026-01-01T00:01:00+00:00"}) == ["b-waiting"]
    assert await op(
        host,
        "status_by",
        **{"from": "2025-01-01T00:00:00+00:00", "to": "2026-01-01T00:01:00+00:00"},
    ) == ["a-done"]


async def test_purge_instance_history_and_by(host: Host) -> None:
    await op(host, "start", name="hello_sequence", instance_id="p1")
    await op(host, "start", name="hello_sequence", instance_id="p2")
    await op(host, "start", name="wait_approval", instance_id="p3")
    await host.finished("p1")
    await host.finished("p2")
    assert await op(host, "purge", "p1") == {"deleted": 1}
    assert await op(host, "purge", "p1") == {"deleted": 0}  # 404 -> 0
    purged = await op(
        host, "purge_by", **{"from": "2025-01-01T00:00:00+00:00"}, status=["Completed"]
    )
    assert purged == {"deleted": 1}
    assert await op(
        host, "purge_by", **{"from": "2025-01-01T00:00:00+00:00"}, status=["Failed"]
    ) == {"deleted": 0}
    assert (await op(host, "status_plain", "p3"))["exists"] is True


async def test_wait_for_completion_or_create_check_status_response(host: Host) -> None:
    await op(host, "start", name="hello_sequence", instance_id="w-done", input="Cairo")
    await host.finished("w-done")
    response = await host.client.post("/api/client/wait/w-done", json={})
    assert response.status == 200
    assert await response.json() == ["Hello Tokyo!", "Hello Seattle!", "Hello Cairo!"]

    await op(host, "start", name="failing", instance_id="w-failed")
    await host.finished("w-failed")
    response = await host.client.post("/api/client/wait/w-failed", json={})
    assert response.status == 500  # the SDK's choice for Failed (spec §9.6)

    await op(host, "start", name="wait_approval", instance_id="w-run")
    await host.idle()
    response = await host.client.post(
        "/api/client/wait/w-run", json={"timeout_ms": 100, "retry_ms": 20}
    )
    assert response.status == 202
    assert response.headers["Retry-After"] == "10"
    assert (await response.json())["id"] == "w-run"
