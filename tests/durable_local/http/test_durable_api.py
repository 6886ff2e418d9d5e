"""The Durable HTTP API (spec §6) through the public webhook base and the RPC base, against the
real runtime: every endpoint, status code, header and body shape."""

from __future__ import annotations

import json
from typing import Any

import pytest

from durable_local.http.durable_api import parse_bool
from durable_local.model import RuntimeStatus
from tests.helpers.host import Host

WEBHOOK = "/runtime/webhooks/durabletask"
RPC = "/durabletask"


async def start(
    host: Host, name: str, body: Any = None, instance_id: str | None = None, base: str = WEBHOOK
) -> str:
    path = f"{base}/orchestrators/{name}" + (f"/{instance_id}" if instance_id else "")
    kwargs: dict[str, Any] = {} if body is None else {"data": json.dumps(body)}
    response = await host.client.post(path, **kwargs)
    assert response.status == 202, await response.text()
    payload = await response.json()
    return str(payload["id"])


async def status_of(host: Host, instance_id: str, query: str = "") -> tuple[int, Any]:
    response = await host.client.get(f"{WEBHOOK}/instances/{instance_id}{query}")
    text = await response.text()
    return response.status, json.loads(text) if text else None


def assert_http_error(body: Any) -> None:
    assert set(body) == {"Message", "ExceptionMessage", "ExceptionType", "StackTrace"}


# --------------------------------------------------------------------------------------------
# start
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("base", [WEBHOOK, RPC])
async def test_start_returns_check_status_response(host: Host, base: str) -> None:
    response = await host.client.post(f"{base}/orchestrators/hello_sequence", json={"x": 1})
    assert response.status == 202
    body = await response.json()
    origin = f"http://{response.url.host}:{response.url.port}"
    query = "taskHub=HostTestHub&connection=Storage"
    instance_id = body["id"]
    assert len(instance_id) == 32 and all(c in "0123456789abcdef" for c in instance_id)
    base = f"{origin}{WEBHOOK}/instances/{instance_id}"
    expected_status_uri = f"{base}?{query}"
    assert body == {
        "id": instance_id,
        "statusQueryGetUri": expected_status_uri,
        "sendEventPostUri": f"{base}/raiseEvent/{{eventName}}?{query}",
        "terminatePostUri": f"{base}/terminate?reason={{text}}&{query}",
        "purgeHistoryDeleteUri": expected_status_uri,
        "restartPostUri": f"{base}/restart?{query}",
        "suspendPostUri": f"{base}/suspend?reason={{text}}&{query}",
        "resumePostUri": f"{base}/resume?reason={{text}}&{query}",
    }
    assert response.headers["Location"] == expected_status_uri
    assert response.headers["Retry-After"] == "10"
    assert response.content_type == "application/json"


async def test_start_with_instance_id_and_raw_json_input(host: Host) -> None:
    instance_id = await start(host, "wait_approval", {"order": 7}, instance_id="order-7")
    assert instance_id == "order-7"
    _, body = await status_of(host, "order-7")
    assert body["input"] == {"order": 7}  # public API: the body itself, compactly re-serialised
    assert body["name"] == "wait_approval"


async def test_start_with_double_encoded_body_gives_string_input(host: Host) -> None:
    # What the Python client sends (spec §4.3): the JSON of the JSON text.
    response = await host.client.post(
        f"{RPC}/orchestrators/hello_sequence", data=json.dumps(json.dumps("Paris"))
    )
    instance_id = (await response.json())["id"]
    status = await host.finished(instance_id)
    assert status["input"] == '"Paris"'
    assert status["output"] == ["Hello Tokyo!", "Hello Seattle!", "Hello Paris!"]


async def test_start_without_body_has_null_input(host: Host) -> None:
    instance_id = await start(host, "hello_sequence")
    status = await host.finished(instance_id)
    assert status["input"] is None
    assert status["output"][-1] == "Hello World!"


async def test_start_by_alias_case_insensitively(host: Host) -> None:
    instance_id = await start(host, "aliasedorchestrator")
    status = await host.finished(instance_id)
    assert status["runtimeStatus"] == "Completed" and status["output"] == "aliased"


async def test_start_unknown_orchestrator_is_400(host: Host) -> None:
    response = await host.client.post(f"{WEBHOOK}/orchestrators/nope")
    assert response.status == 400
    body = await response.json()
    assert_http_error(body)
    assert body["ExceptionType"] == "System.ArgumentException"
    assert "nope" in body["ExceptionMessage"]


async def test_start_invalid_instance_id_is_400(host: Host) -> None:
    response = await host.client.post(f"{WEBHOOK}/orchestrators/hello_sequence/@bad")
    assert response.status == 400
    assert_http_error(await response.json())


async def test_start_with_malformed_json_is_400(host: Host) -> None:
    response = await host.client.post(
        f"{WEBHOOK}/orchestrators/hello_sequence",
        data="{not json",
        headers={"Content-Type": "application/json"},
    )
    assert response.status == 400
    body = await response.json()
    assert_http_error(body)
    assert "not valid JSON" in body["ExceptionMessage"]


async def test_start_over_running_instance_is_500(host: Host) -> None:
    await start(host, "wait_approval", instance_id="dup")
    await host.idle()
    response = await host.client.post(f"{WEBHOOK}/orchestrators/wait_approval/dup")
    assert response.status == 500
    body = await response.json()
    assert_http_error(body)
    assert "OrchestrationAlreadyExistsException" in body["ExceptionType"]


async def test_start_over_completed_instance_is_accepted(host: Host) -> None:
    await start(host, "hello_sequence", instance_id="again")
    await host.finished("again")
    # A JSON string body whose text is JSON itself: the SDK's get_input() decodes it.
    assert await start(host, "hello_sequence", '"Oslo"', instance_id="again") == "again"
    status = await host.finished("again")
    assert status["output"][-1] == "Hello Oslo!"


async def test_start_and_wait_returns_output(host: Host) -> None:
    response = await host.client.post(
        f"{WEBHOOK}/orchestrators/hello_sequence?timeout=10&pollingInterval=0.01",
        json='"Rome"',
    )
    assert response.status == 200
    assert await response.json() == ["Hello Tokyo!", "Hello Seattle!", "Hello Rome!"]


async def test_start_and_wait_times_out_with_check_status(host: Host) -> None:
    response = await host.client.post(
        f"{WEBHOOK}/orchestrators/wait_approval?timeout=0.05&pollingInterval=0.01"
    )
    assert response.status == 202
    assert "statusQueryGetUri" in await response.json()


async def test_start_and_wait_for_failed_is_200_status(host: Host) -> None:
    response = await host.client.post(
        f"{WEBHOOK}/orchestrators/failing?timeout=10&pollingInterval=0.01"
    )
    assert response.status == 200
    assert (await response.json())["runtimeStatus"] == "Failed"


async def test_start_with_bad_timeout_is_400(host: Host) -> None:
    response = await host.client.post(f"{WEBHOOK}/orchestrators/hello_sequence?timeout=soon")
    assert response.status == 400


async def test_start_needs_post(host: Host) -> None:
    response = await host.client.get(f"{WEBHOOK}/orchestrators/hello_sequence")
    assert response.status == 404
    assert "Message" in await response.json()


async def test_body_over_the_limit_is_413(make_host: Any) -> None:
    host = await make_host(max_body_size=1024)
    response = await host.client.post(
        f"{WEBHOOK}/orchestrators/hello_sequence", data=json.dumps("x" * 4096)
    )
    assert response.status == 413
    assert_http_error(await response.json())


async def test_chunked_body_over_the_limit_is_413(make_host: Any) -> None:
    host = await make_host(max_body_size=1024)

    async def chunks() -> Any:
        for _ in range(8):
            yield b'"' + b"x" * 500 + b'"'

    response = await host.client.post(f"{WEBHOOK}/orchestrators/hello_sequence", data=chunks())
    assert response.status == 413


# --------------------------------------------------------------------------------------------
# status
# --------------------------------------------------------------------------------------------


async def test_status_of_running_instance_is_202_with_location(host: Host) -> None:
    await start(host, "wait_approval", instance_id="w1")
    await host.finished("w1", RuntimeStatus.RUNNING)
    response = await host.client.get(f"{WEBHOOK}/instances/w1?taskHub=hosttesthub")
    assert response.status == 202
    assert response.headers["Retry-After"] == "5"
    assert response.headers["Location"] == str(response.url)
    body = await response.json()
    assert body["runtimeStatus"] == "Running"
    assert body["customStatus"] == {"stage": "waiting"}
    assert body["createdTime"] == "2026-01-01T00:00:00Z"
    assert "historyEvents" not in body


async def test_status_of_completed_instance_is_200(host: Host) -> None:
    instance_id = await start(host, "hello_sequence", '"Lima"')
    await host.finished(instance_id)
    code, body = await status_of(host, instance_id)
    assert code == 200
    assert body["runtimeStatus"] == "Completed"
    assert body["output"] == ["Hello Tokyo!", "Hello Seattle!", "Hello Lima!"]
    assert body["input"] == '"Lima"'


async def test_start_with_a_non_json_string_input_fails_in_get_input(host: Host) -> None:
    # Faithful to the host (spec §4.3, §9.2): the orchestrator's get_input() cannot decode it.
    instance_id = await start(host, "hello_sequence", "Lima")
    status = await host.finished(instance_id)
    assert status["runtimeStatus"] == "Failed"


async def test_status_history_flags_are_case_insensitive(host: Host) -> None:
    instance_id = await start(host, "hello_sequence")
    await host.finished(instance_id)
    code, body = await status_of(
        host, instance_id, "?SHOWHISTORY=TRUE&showHistoryOutput=True&showInput=false"
    )
    assert code == 200
    kinds = [e["EventType"] for e in body["historyEvents"]]
    assert kinds[0] == "ExecutionStarted" and kinds[-1] == "ExecutionCompleted"
    completed = [e for e in body["historyEvents"] if e["EventType"] == "TaskCompleted"]
    assert completed[0]["Result"] == "Hello Tokyo!"
    assert "input" not in body or body["input"] is None


async def test_status_unparseable_bool_falls_back_to_default(host: Host) -> None:
    instance_id = await start(host, "hello_sequence")
    await host.finished(instance_id)
    _, body = await status_of(host, instance_id, "?showHistory=yes")
    assert "historyEvents" not in body


async def test_status_of_failed_instance(host: Host) -> None:
    instance_id = await start(host, "failing")
    await host.finished(instance_id)
    code, body = await status_of(host, instance_id)
    assert code == 200
    assert body["runtimeStatus"] == "Failed"
    assert "boom" in body["output"]
    code, _ = await status_of(host, instance_id, "?returnInternalServerErrorOnFailure=true")
    assert code == 500


async def test_status_of_missing_instance_is_404(host: Host) -> None:
    code, body = await status_of(host, "missing")
    assert code == 404
    assert_http_error(body)


async def test_status_through_rpc_base_and_mixed_case_path(host: Host) -> None:
    instance_id = await start(host, "hello_sequence", base=RPC)
    await host.finished(instance_id)
    for path in (
        f"{RPC}/instances/{instance_id}",
        f"/runtime/webhooks/durableTask/Instances/{instance_id}",
    ):
        response = await host.client.get(path)
        assert response.status == 200, path


async def test_other_task_hub_is_rejected(host: Host) -> None:
    response = await host.client.get(f"{WEBHOOK}/instances/x?taskHub=OtherHub")
    assert response.status == 400
    assert "OtherHub" in (await response.json())["ExceptionMessage"]


# --------------------------------------------------------------------------------------------
# list and purge by filter
# --------------------------------------------------------------------------------------------


async def test_list_pages_with_continuation_token(host: Host) -> None:
    for index in range(3):
        await start(host, "wait_approval", instance_id=f"page-{index}")
        host.clock.advance(1)
    await host.idle()
    seen: list[str] = []
    token = None
    for _ in range(5):
        headers = {"x-ms-continuation-token": token} if token else {}
        response = await host.client.get(f"{WEBHOOK}/instances?top=2", headers=headers)
        assert response.status == 200
        assert "x-ms-continuation-token" in response.headers
        items = await response.json()
        seen += [item["instanceId"] for item in items]
        token = response.headers["x-ms-continuation-token"]
        if not token:
            break
    assert seen == ["page-0", "page-1", "page-2"]


async def test_list_filters(host: Host) -> None:
    await start(host, "hello_sequence", instance_id="early")
    host.clock.advance(60)
    await start(host, "wait_approval", {"a": 1}, instance_id="late-a")
    await start(host, "wait_approval", instance_id="late-b")
    await host.idle()
    await host.finished("early")

    async def ids(query: str) -> list[str]:
        response = await host.client.get(f"{RPC}/instances/?{query}")
        assert response.status == 200, await response.text()
        return sorted(item["instanceId"] for item in await response.json())

    assert await ids("") == ["early", "late-a", "late-b"]
    assert await ids("createdTimeFrom=2026-01-01T00:00:30Z") == ["late-a", "late-b"]
    assert await ids("createdTimeTo=2026-01-01T00:00:30.0000000Z") == ["early"]
    assert await ids("runtimeStatus=Completed") == ["early"]
    assert await ids("runtimeStatus=Running,Completed") == ["early", "late-a", "late-b"]
    assert await ids("instanceIdPrefix=late-") == ["late-a", "late-b"]
    response = await host.client.get(f"{RPC}/instances/?showInput=false&instanceIdPrefix=late-a")
    assert "input" not in (await response.json())[0] or (await response.json())[0]["input"] is None


@pytest.mark.parametrize(
    "query",
    ["runtimeStatus=Sleeping", "top=many", "top=0", "createdTimeFrom=yesterday"],
)
async def test_list_rejects_bad_parameters(host: Host, query: str) -> None:
    response = await host.client.get(f"{WEBHOOK}/instances?{query}")
    assert response.status == 400
    assert_http_error(await response.json())


async def test_list_rejects_bad_continuation_token(host: Host) -> None:
    response = await host.client.get(
        f"{WEBHOOK}/instances", headers={"x-ms-continuation-token": "%%%garbage"}
    )
    assert response.status == 400


async def test_purge_by_filter(host: Host) -> None:
    response = await host.client.delete(f"{WEBHOOK}/instances")
    assert response.status == 400
    assert await response.json() == "Please provide value for 'createdTimeFrom' parameter."

    response = await host.client.delete(f"{WEBHOOK}/instances?createdTimeFrom=2020-01-01T00:00:00Z")
    assert response.status == 404

    first = await start(host, "hello_sequence")
    second = await start(host, "hello_sequence")
    await start(host, "wait_approval", instance_id="keep")
    await host.finished(first)
    await host.finished(second)
    response = await host.client.delete(
        f"{RPC}/instances/?createdTimeFrom=2020-01-01T00:00:00Z&runtimeStatus=Completed"
    )
    assert response.status == 200
    assert await response.json() == {"instancesDeleted": 2}
    assert (await status_of(host, first))[0] == 404
    assert (await status_of(host, "keep"))[0] == 202


# --------------------------------------------------------------------------------------------
# purge one, terminate, suspend, resume, rewind, restart
# --------------------------------------------------------------------------------------------


async def test_purge_instance(host: Host) -> None:
    instance_id = await start(host, "hello_sequence")
    await host.finished(instance_id)
    response = await host.client.delete(f"{WEBHOOK}/instances/{instance_id}")
    assert response.status == 200
    assert await response.json() == {"instancesDeleted": 1}
    response = await host.client.delete(f"{WEBHOOK}/instances/{instance_id}")
    assert response.status == 404
    assert_http_error(await response.json())


async def test_terminate(host: Host) -> None:
    await start(host, "wait_approval", instance_id="t1")
    await host.idle()
    response = await host.client.post(f"{WEBHOOK}/instances/t1/terminate?reason=enough")
    assert response.status == 202
    assert await response.read() == b""
    status = await host.finished("t1")
    assert status["runtimeStatus"] == "Terminated"
    assert status["output"] == "enough"
    response = await host.client.post(f"{WEBHOOK}/instances/t1/terminate?reason=again")
    assert response.status == 410
    response = await host.client.post(f"{WEBHOOK}/instances/none/terminate")
    assert response.status == 404


async def test_suspend_and_resume(host: Host) -> None:
    await start(host, "wait_approval", instance_id="s1")
    await host.idle()
    response = await host.client.post(f"{WEBHOOK}/instances/s1/suspend?reason=hold")
    assert response.status == 202
    await host.idle()
    code, body = await status_of(host, "s1")
    assert (code, body["runtimeStatus"]) == (202, "Suspended")
    response = await host.client.post(f"{WEBHOOK}/instances/s1/suspend")
    assert response.status == 500
    # Events raised while suspended are kept and applied after resume.
    response = await host.client.post(f"{WEBHOOK}/instances/s1/raiseEvent/Approval", json="yes")
    assert response.status == 202
    await host.idle()
    assert (await status_of(host, "s1"))[1]["runtimeStatus"] == "Suspended"
    response = await host.client.post(f"{WEBHOOK}/instances/s1/resume?reason=go")
    assert response.status == 202
    status = await host.finished("s1")
    assert status["output"]["approval"] == "yes"
    response = await host.client.post(f"{WEBHOOK}/instances/s1/resume")
    assert response.status == 410
    response = await host.client.post(f"{WEBHOOK}/instances/nobody/suspend")
    assert response.status == 404


async def test_resume_of_running_instance_is_500(host: Host) -> None:
    await start(host, "wait_approval", instance_id="r1")
    await host.idle()
    response = await host.client.post(f"{WEBHOOK}/instances/r1/resume")
    assert response.status == 500
    assert_http_error(await response.json())


async def test_rewind_failed_instance(host: Host) -> None:
    flaky = host.loaded.module.FLAKY_CALLS
    flaky["count"] = 0
    instance_id = await start(host, "flaky_flow")
    status = await host.finished(instance_id)
    assert status["runtimeStatus"] == "Failed"
    response = await host.client.post(f"{WEBHOOK}/instances/{instance_id}/rewind?reason=retry")
    assert response.status == 202
    await host.idle()
    status = await host.finished(instance_id, RuntimeStatus.COMPLETED)
    assert status["output"] == "recovered"
    response = await host.client.post(f"{WEBHOOK}/instances/{instance_id}/rewind")
    assert response.status == 410
    response = await host.client.post(f"{WEBHOOK}/instances/missing/rewind")
    assert response.status == 404


async def test_rewind_running_instance_is_500(host: Host) -> None:
    await start(host, "wait_approval", instance_id="rw")
    await host.idle()
    response = await host.client.post(f"{WEBHOOK}/instances/rw/rewind")
    assert response.status == 500


async def test_restart(host: Host) -> None:
    await start(host, "hello_sequence", '"Kyiv"', instance_id="orig")
    await host.finished("orig")
    response = await host.client.post(f"{WEBHOOK}/instances/orig/restart")
    assert response.status == 202
    body = await response.json()
    assert body["id"] != "orig"
    assert response.headers["Location"] == body["statusQueryGetUri"]
    status = await host.finished(body["id"])
    assert status["output"][-1] == "Hello Kyiv!"

    response = await host.client.post(
        f"{WEBHOOK}/instances/orig/restart?restartWithNewInstanceId=FALSE"
    )
    assert response.status == 202
    assert (await response.json())["id"] == "orig"

    response = await host.client.post(f"{WEBHOOK}/instances/unknown/restart")
    assert response.status == 400


# --------------------------------------------------------------------------------------------
# raise event
# --------------------------------------------------------------------------------------------


async def test_raise_event(host: Host) -> None:
    await start(host, "wait_approval", '"in"', instance_id="e1")
    await host.idle()
    response = await host.client.post(
        f"{WEBHOOK}/instances/e1/raiseEvent/Approval", json={"by": "ann"}
    )
    assert response.status == 202
    assert await response.read() == b""
    status = await host.finished("e1")
    assert status["output"] == {"approval": {"by": "ann"}, "input": "in"}
    assert status["customStatus"] == {"stage": "approved"}
    response = await host.client.post(f"{WEBHOOK}/instances/e1/raiseEvent/Approval", json=1)
    assert response.status == 410


async def test_raise_event_errors(host: Host) -> None:
    response = await host.client.post(f"{WEBHOOK}/instances/none/raiseEvent/Approval", json=1)
    assert response.status == 404
    await start(host, "wait_approval", instance_id="e2")
    await host.idle()
    response = await host.client.post(
        f"{WEBHOOK}/instances/e2/raiseEvent/Approval",
        data="yes",
        headers={"Content-Type": "text/plain"},
    )
    assert response.status == 400
    assert (await response.json())["ExceptionMessage"] == (
        "Only application/json request content is supported"
    )
    response = await host.client.post(
        f"{WEBHOOK}/instances/e2/raiseEvent/Approval",
        data="{broken",
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert response.status == 400


# --------------------------------------------------------------------------------------------
# everything else
# --------------------------------------------------------------------------------------------


async def test_entities_are_not_supported(host: Host) -> None:
    response = await host.client.post(f"{WEBHOOK}/entities/Counter/k1?op=add", json=1)
    assert response.status == 501
    assert_http_error(await response.json())


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/nowhere"),
        ("GET", f"{WEBHOOK}/unknown"),
        ("PUT", f"{WEBHOOK}/instances/x"),
        ("GET", f"{WEBHOOK}/instances/x/terminate"),
        ("GET", "/admin/nothing"),
        ("GET", "/api/does/not/exist"),
    ],
)
async def test_unknown_routes_are_404_json(host: Host, method: str, path: str) -> None:
    response = await host.client.request(method, path)
    assert response.status == 404
    assert response.content_type == "application/json"
    assert "Message" in await response.json()


async def test_host_status(host: Host) -> None:
    response = await host.client.get("/admin/host/status")
    assert response.status == 200
    body = await response.json()
    assert body["state"] == "Running"
    assert body["taskHubName"] == "HostTestHub"
    assert "hello_sequence" in body["functions"]


@pytest.mark.parametrize(
    ("method", "path", "body", "headers"),
    [
        ("POST", f"{WEBHOOK}/orchestrators/hello_sequence", b"\xff\xfe\x00garbage", {}),
        ("POST", f"{WEBHOOK}/orchestrators/%ZZ", b"", {}),
        ("GET", f"{WEBHOOK}/instances/%ff%fe", b"", {}),
        ("GET", f"{WEBHOOK}/instances/" + "x" * 5000, b"", {}),
        ("GET", f"{WEBHOOK}/instances?createdTimeFrom=%00", b"", {}),
        (
            "POST",
            f"{WEBHOOK}/instances/x/raiseEvent/E",
            b"\x00",
            {"Content-Type": "application/json"},
        ),
        ("DELETE", f"{WEBHOOK}/instances?createdTimeFrom=2020-01-01&runtimeStatus=,,,", b"", {}),
    ],
)
async def test_malformed_requests_get_json_answers(
    host: Host, method: str, path: str, body: bytes, headers: dict[str, str]
) -> None:
    response = await host.client.request(method, path, data=body, headers=headers)
    assert 400 <= response.status < 500
    text = await response.text()
    if text:
        json.loads(text)
    assert (await host.client.get("/admin/host/status")).status == 200


@pytest.mark.parametrize(
    ("text", "default", "expected"),
    [
        ("true", False, True),
        (" TRUE ", False, True),
        ("False", True, False),
        ("1", True, True),
        ("yes", False, False),
        (None, True, True),
    ],
)
def test_bool_parsing_is_dotnet_tryparse(text: str | None, default: bool, expected: bool) -> None:
    query = {} if text is None else {"flag": text}
    assert parse_bool(query, "Flag", default) is expected
