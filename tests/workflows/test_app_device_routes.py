"""The ack route and the cancel route against a small in-test durable RPC endpoint.

Each route's user function gets a real ``azure.functions.HttpRequest`` and the durable-client
binding JSON; its SDK client talks over real HTTP to an aiohttp server in the test that keeps
instances (runtime status, custom status) and answers ``GET instances/{id}``, ``GET
instances/?instanceIdPrefix=...`` (a few per page, like the SDK's first-page-only listing),
``POST .../raiseEvent/{event}`` and ``POST .../terminate`` the way the Durable extension does.
Every answer of both routes is checked, status code and JSON body.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import azure.functions as func
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from azure.durable_functions.models.utils import http_utils

from tests.helpers.app_settings import TEST_ACK_KEY
from tests.helpers.client_binding import binding
from workflows.ack_links import sign_token

EVENT = "DownloadCompletedAck"
CHILD = "run-1:device:dev-1"
ACTIVE = {"Pending", "Running", "Suspended", "ContinuedAsNew"}


@dataclass
class Instance:
    name: str
    status: str = "Running"
    custom: Any = None


@dataclass
class FakeDurable:
    instances: dict[str, Instance] = field(default_factory=dict)
    events: list[tuple[str, str, Any]] = field(default_factory=list)
    terminated: list[tuple[str, str]] = field(default_factory=list)
    #: Instances per listing page (the SDK reads only the first page).
    page_size: int = 3
    #: Status polls a terminate takes to show (the runtime applies it asynchronously).
    terminate_lag: int = 0
    _lagging: dict[str, int] = field(default_factory=dict)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/durabletask/instances/", self.list_instances)
        app.router.add_get("/durabletask/instances/{id}", self.get_status)
        app.router.add_post("/durabletask/instances/{id}/raiseEvent/{event}", self.raise_event)
        app.router.add_post("/durabletask/instances/{id}/terminate", self.terminate)
        return app

    def _tick(self, instance_id: str) -> None:
        if instance_id in self._lagging:
            self._lagging[instance_id] -= 1
            if self._lagging[instance_id] <= 0:
                del self._lagging[instance_id]
                self.instances[instance_id].status = "Terminated"

    def _json(self, instance_id: str) -> dict[str, Any]:
        instance = self.instances[instance_id]
        return {
            "name": instance.name,
            "instanceId": instance_id,
            "runtimeStatus": instance.status,
            "input": None,
            "customStatus": instance.custom,
            "output": None,
            "createdTime": "2026-12-04T12:00:00Z",
            "lastUpdatedTime": "2026-12-04T12:00:05Z",
        }

    async def get_status(self, request: web.Request) -> web.Response:
        instance_id = request.match_info["id"]
        if instance_id not in self.instances:
            return web.Response(status=404)
        self._tick(instance_id)
        running = self.instances[instance_id].status in ACTIVE
        return web.json_response(self._json(instance_id), status=202 if running else 200)

    async def list_instances(self, request: web.Request) -> web.Response:
        prefix = request.query.get("instanceIdPrefix", "")
        wanted = set(request.query.get("runtimeStatus", "").split(",")) - {""}
        for instance_id in list(self._lagging):
            self._tick(instance_id)
        found = [
            self._json(i)
            for i in sorted(self.instances)
            if i.startswith(prefix) and (not wanted or self.instances[i].status in wanted)
        ]
        return web.json_response(found[: self.page_size])

    async def raise_event(self, request: web.Request) -> web.Response:
        instance_id = request.match_info["id"]
        if instance_id not in self.instances:
            return web.Response(status=404)
        if self.instances[instance_id].status not in ACTIVE:
            return web.Response(status=410)
        body = json.loads(await request.text())
        self.events.append((instance_id, request.match_info["event"], body))
        return web.Response(status=202)

    async def terminate(self, request: web.Request) -> web.Response:
        instance_id = request.match_info["id"]
        if instance_id not in self.instances:
            return web.Response(status=404)
        if self.instances[instance_id].status not in ACTIVE:
            return web.Response(status=410)
        self.terminated.append((instance_id, request.query.get("reason", "")))
        if self.terminate_lag:
            self._lagging[instance_id] = self.terminate_lag
        else:
            self.instances[instance_id].status = "Terminated"
        return web.Response(status=202)


@pytest.fixture
async def durable() -> AsyncIterator[tuple[FakeDurable, str]]:
    fake = FakeDurable()
    server = TestServer(fake.app(), host="127.0.0.1")
    await server.start_server()
    try:
        yield fake, f"http://127.0.0.1:{server.port}/durabletask/"
    finally:
        await http_utils._close_session()
        await server.close()


@dataclass
class Answer:
    status: int
    body: Any


async def call_route(
    user_function: Callable[[str], Any],
    name: str,
    rpc_base_url: str,
    route_params: dict[str, str],
    body: bytes = b"",
) -> Answer:
    request = func.HttpRequest(
        method="POST",
        url="http://localhost:7071/api/route",
        headers={"Content-Type": "application/json"},
        params={},
        route_params=route_params,
        body=body,
    )
    response = await user_function(name)(req=request, client=binding(rpc_base_url))
    assert isinstance(response, func.HttpResponse)
    assert response.mimetype == "application/json"
    return Answer(response.status_code, json.loads(response.get_body()))


def token(
    child: str = CHILD,
    *,
    key: str = TEST_ACK_KEY,
    deadline: datetime | None = None,
    event: str = EVENT,
) -> str:
    when = deadline or datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=10)
    return sign_token(key.encode(), child, event, when)


OK_BODY = json.dumps({"ok": True, "sha256": "AB" * 32}).encode()


async def ack(
    user_function: Callable[[str], Any], url: str, the_token: str, body: bytes = OK_BODY
) -> Answer:
    return await call_route(user_function, "acknowledge_download", url, {"token": the_token}, body)


def waiting_child(fake: FakeDurable, child: str = CHILD) -> None:
    fake.instances[child] = Instance(
        "device_provisioning_orchestrator", custom={"stage": "awaiting_ack"}
    )


# ---- the ack route: 202 ----------------------------------------------------------------------


async def test_a_valid_ack_is_raised_on_its_child_and_answers_202(
    user_function: Callable[[str], Any], durable: tuple[FakeDurable, str]
) -> None:
    fake, url = durable
    waiting_child(fake)
    waiting_child(fake, "run-1:device:dev-2")
    answer = await ack(user_function, url, token())
    assert (answer.status, answer.body) == (
        202,
        {"instanceId": CHILD, "eventName": EVENT, "accepted": True},
    )
    # Only the token's child got the event; the SDK client double-encodes the payload.
    [(child, event, payload)] = fake.events
    assert (child, event) == (CHILD, EVENT)
    assert json.loads(payload) == {"ok": True, "sha256": "ab" * 32}


async def test_an_ack_before_the_child_shows_awaiting_ack_is_still_raised(
    user_function: Callable[[str], Any], durable: tuple[FakeDurable, str]
) -> None:
    # A fast consumer can ack before the orchestrator recorded the send: Durable buffers it.
    fake, url = durable
    fake.instances[CHILD] = Instance("d", custom={"stage": "sending_package"})
    assert (await ack(user_function, url, token())).status == 202
    assert len(fake.events) == 1


async def test_a_failure_report_is_an_ack_too(
    user_function: Callable[[str], Any], durable: tuple[FakeDurable, str]
) -> None:
    fake, url = durable
    waiting_child(fake)
    body = json.dumps({"ok": False, "reason": "disk full"}).encode()
    assert (await ack(user_function, url, token(), body)).status == 202
    assert json.loads(fake.events[0][2]) == {"ok": False, "reason": "disk full"}


async def test_a_token_signed_with_the_previous_key_works_during_a_rotation(
    user_function: Callable[[str], Any],
    durable: tuple[FakeDurable, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake, url = durable
    waiting_child(fake)
    old = token()  # issued before the rotation, with TEST_ACK_KEY
    monkeypatch.setenv("ACK_SIGNING_KEY", "the-new-key-" + "n" * 32)
    monkeypatch.setenv("ACK_SIGNING_KEY_PREVIOUS", TEST_ACK_KEY)
    assert (await ack(user_function, url, old)).status == 202
    # Rotation over: the previous key is removed, the old link stops working.
    monkeypatch.delenv("ACK_SIGNING_KEY_PREVIOUS")
    answer = await ack(user_function, url, old)
    assert (answer.status, answer.body) == (403, {"error": "invalid ack link"})
    assert len(fake.events) == 1


# ---- the ack route: 403 ----------------------------------------------------------------------


def _swap_payload(mine: str, theirs: str) -> str:
    return f"{theirs.split('.')[0]}.{mine.split('.')[1]}"


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(lambda: _swap_payload(token(), token("run-1:device:dev-2")), id="other-child"),
        pytest.param(
            lambda: _swap_payload(
                token(deadline=datetime(2026, 1, 1, tzinfo=UTC)),
                token(deadline=datetime(2099, 1, 1, tzinfo=UTC)),
            ),
            id="changed-deadline",
        ),
        pytest.param(lambda: token()[:-3], id="truncated"),
        pytest.param(lambda: token(key="a-wrong-key-" + "w" * 32), id="wrong-key"),
        pytest.param(lambda: "not-a-token", id="garbage"),
        pytest.param(lambda: token(event="SomethingElse"), id="other-event"),
    ],
)
async def test_forged_tokens_get_403_and_raise_nothing(
    user_function: Callable[[str], Any], durable: tuple[FakeDurable, str], forge: Any
) -> None:
    fake, url = durable
    waiting_child(fake)
    waiting_child(fake, "run-1:device:dev-2")
    answer = await ack(user_function, url, forge())
    assert (answer.status, answer.body) == (403, {"error": "invalid ack link"})
    assert fake.events == []


async def test_a_forged_token_with_a_bad_body_is_still_403(
    user_function: Callable[[str], Any], durable: tuple[FakeDurable, str]
) -> None:
    _, url = durable
    assert (await ack(user_function, url, "forged", b"not json")).status == 403


# ---- the ack route: 410 ----------------------------------------------------------------------


async def test_an_expired_link_gets_410(
    user_function: Callable[[str], Any], durable: tuple[FakeDurable, str]
) -> None:
    fake, url = durable
    waiting_child(fake)
    past = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=1)
    answer = await ack(user_function, url, token(deadline=past))
    assert answer.status == 410
    assert answer.body == {
        "error": f"the ack link expired at {past.isoformat()}",
        "instanceId": CHILD,
    }
    assert fake.events == []


@pytest.mark.parametrize("status", ["Completed", "Failed", "Terminated", "Canceled"])
async def test_a_finished_child_gets_410(
    user_function: Callable[[str], Any], durable: tuple[FakeDurable, str], status: str
) -> None:
    fake, url = durable
    fake.instances[CHILD] = Instance("d", status=status, custom={"stage": "done"})
    answer = await ack(user_function, url, token())
    assert answer.status == 410
    assert answer.body == {
        "error": f"this child already finished ({status})",
        "instanceId": CHILD,
        "runtimeStatus": status,
    }
    assert fake.events == []


@pytest.mark.parametrize("stage", ["recording_outcome", "done"])
async def test_a_second_ack_after_the_first_was_taken_gets_410(
    user_function: Callable[[str], Any], durable: tuple[FakeDurable, str], stage: str
) -> None:
    fake, url = durable
    fake.instances[CHILD] = Instance("d", custom={"stage": stage})
    answer = await ack(user_function, url, token())
    assert answer.status == 410
    assert answer.body["error"] == "this child already has its ack (or its deadline passed)"
    assert fake.events == []


async def test_a_purged_child_gets_410(
    user_function: Callable[[str], Any], durable: tuple[FakeDurable, str]
) -> None:
    _, url = durable
    answer = await ack(user_function, url, token())
    assert (answer.status, answer.body) == (
        410,
        {"error": "this child no longer exists", "instanceId": CHILD},
    )


# ---- the ack route: 400 ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"", "body"),
        (b"not json", "body"),
        (b"\xff\xfe", "body"),
        (b"[true]", "body"),
        (b"true", "body"),
        (b'{"ok": "yes"}', "ok"),
        (b"{}", "ok"),
        (b'{"ok": true, "sha256": "xyz"}', "sha256"),
        (b'{"ok": true, "sha256": 5}', "sha256"),
        (b'{"ok": false, "reason": 7}', "reason"),
        (json.dumps({"ok": False, "reason": "r" * 501}).encode(), "reason"),
        (b'{"ok": true, "instanceId": "run-1:device:dev-2"}', "instanceId"),
        (b'{"ok": true, "pad": "' + b"x" * 17000 + b'"}', "body"),
    ],
)
async def test_a_malformed_body_gets_400_naming_the_field(
    user_function: Callable[[str], Any],
    durable: tuple[FakeDurable, str],
    body: bytes,
    field: str,
) -> None:
    fake, url = durable
    waiting_child(fake)
    answer = await ack(user_function, url, token(), body)
    assert answer.status == 400
    assert answer.body["field"] == field and answer.body["error"]
    assert fake.events == []


# ---- the ack route: 500 / 503 ----------------------------------------------------------------


async def test_no_signing_key_is_a_500_naming_the_setting(
    user_function: Callable[[str], Any],
    durable: tuple[FakeDurable, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, url = durable
    the_token = token()
    monkeypatch.delenv("ACK_SIGNING_KEY")
    answer = await ack(user_function, url, the_token)
    assert answer.status == 500
    assert answer.body["field"] == "ACK_SIGNING_KEY"


async def test_an_unreachable_durable_runtime_is_a_503(user_function: Callable[[str], Any]) -> None:
    answer = await ack(user_function, "http://127.0.0.1:9/durabletask/", token())
    assert answer.status == 503
    assert answer.body == {"error": "the durable runtime is unavailable; retry"}
    await http_utils._close_session()


# ---- the cancel route ------------------------------------------------------------------------


def devices_run(fake: FakeDurable, parent: str, devices: int, finished: int = 0) -> None:
    fake.instances[parent] = Instance("parent_workflow_orchestrator")
    for n in range(devices):
        child = Instance("device_provisioning_orchestrator")
        if n < finished:
            child.status = "Completed"
        fake.instances[f"{parent}:device:d{n:03d}"] = child
    # Another run whose id starts the same way is not this run's child.
    fake.instances[f"{parent}0"] = Instance("parent_workflow_orchestrator")


async def cancel(
    user_function: Callable[[str], Any], url: str, run: str, body: bytes = b""
) -> Answer:
    return await call_route(user_function, "cancel_run", url, {"instanceId": run}, body)


async def test_cancel_terminates_the_parent_then_every_active_child_across_pages(
    user_function: Callable[[str], Any], durable: tuple[FakeDurable, str]
) -> None:
    fake, url = durable
    fake.terminate_lag = 2  # terminations show a little later, as on a real runtime
    devices_run(fake, "run-9", devices=10, finished=2)
    answer = await cancel(user_function, url, "run-9")
    assert answer.status == 202
    active = [f"run-9:device:d{n:03d}" for n in range(2, 10)]
    assert answer.body == {
        "instanceId": "run-9",
        "reason": "run run-9 cancelled through POST /api/runs/run-9/cancel",
        "parent": {"runtimeStatus": "Terminated", "terminated": True},
        "children": {"terminated": active, "stillActive": 0},
    }
    # The parent first (it must not start more children), each child exactly once.
    assert [i for i, _ in fake.terminated] == ["run-9", *active]
    assert fake.instances["run-90"].status == "Running"
    assert fake.instances["run-9:device:d000"].status == "Completed"


async def test_cancel_takes_a_reason_and_finishes_a_half_cancelled_run(
    user_function: Callable[[str], Any], durable: tuple[FakeDurable, str]
) -> None:
    fake, url = durable
    devices_run(fake, "run-8", devices=2)
    fake.instances["run-8"].status = "Terminated"  # terminated by hand, children left running
    answer = await cancel(user_function, url, "run-8", b'{"reason": "wrong firmware"}')
    assert answer.status == 202
    assert answer.body["parent"] == {"runtimeStatus": "Terminated", "terminated": False}
    assert answer.body["children"]["terminated"] == ["run-8:device:d000", "run-8:device:d001"]
    assert {reason for _, reason in fake.terminated} == {"wrong firmware"}
    # A second cancel has nothing left to do.
    again = await cancel(user_function, url, "run-8")
    assert again.body["children"] == {"terminated": [], "stillActive": 0}


@pytest.mark.parametrize(
    ("run", "body", "status", "field"),
    [
        ("run-1:device:dev-1", b"", 400, "instanceId"),  # a child: cancel its run instead
        ("has space", b"", 400, "instanceId"),
        ("x" * 65, b"", 400, "instanceId"),
        ("run-7", b"nope", 400, "body"),
        ("run-7", b"[]", 400, "body"),
        ("run-7", b'{"why": "x"}', 400, "why"),
        ("run-7", b'{"reason": ""}', 400, "reason"),
        ("run-7", b'{"reason": "a\\u0000b"}', 400, "reason"),
        ("run-7", json.dumps({"reason": "r" * 501}).encode(), 400, "reason"),
    ],
)
async def test_cancel_bad_input_is_a_400(
    user_function: Callable[[str], Any],
    durable: tuple[FakeDurable, str],
    run: str,
    body: bytes,
    status: int,
    field: str,
) -> None:
    fake, url = durable
    devices_run(fake, "run-7", devices=1)
    answer = await cancel(user_function, url, run, body)
    assert (answer.status, answer.body["field"]) == (status, field)
    assert fake.terminated == []


async def test_cancel_of_an_unknown_run_or_a_non_run_is_404(
    user_function: Callable[[str], Any], durable: tuple[FakeDurable, str]
) -> None:
    fake, url = durable
    fake.instances["other"] = Instance("some_other_orchestrator")
    for run in ("nope", "other"):
        answer = await cancel(user_function, url, run)
        assert (answer.status, answer.body["instanceId"]) == (404, run)
    assert fake.terminated == []


async def test_cancel_with_the_runtime_down_is_a_503(user_function: Callable[[str], Any]) -> None:
    answer = await cancel(user_function, "http://127.0.0.1:9/durabletask/", "run-1")
    assert (answer.status, answer.body) == (
        503,
        {"error": "the durable runtime is unavailable; retry"},
    )
    await http_utils._close_session()
