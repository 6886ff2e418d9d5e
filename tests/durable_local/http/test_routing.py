"""Unit tests of the host's building blocks: route templates, keys, the client binding JSON,
response conversion and the local-only RPC surface."""

from __future__ import annotations

import json
from typing import Any
from unittest import mock

import azure.functions as func
import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from durable_local.clock import ManualClock
from durable_local.http import create_app
from durable_local.http.app import dispatch
from durable_local.http.auth import AuthLevel, HostKeys, presented_key
from durable_local.http.durable_api import parse_bool
from durable_local.http.routing import RouteTemplate, RouteTemplateError, sort_by_precedence
from durable_local.http.state import is_local_request, rpc_base_url
from durable_local.invoker_http import (
    HttpFunctionError,
    durable_client_binding,
    to_http_result,
)
from durable_local.loader import LoadedApp
from durable_local.runtime import DurableRuntime
from durable_local.store.sqlite import SqliteStore

# --------------------------------------------------------------------------------------------
# Route templates
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "path", "expected"),
    [
        ("orchestrators/{functionName}", "/orchestrators/hello", {"functionName": "hello"}),
        ("orchestrators/{functionName}", "/ORCHESTRATORS/Hello", {"functionName": "Hello"}),
        ("orchestrators/{functionName}", "/orchestrators/hello/", {"functionName": "hello"}),
        ("orchestrators/{functionName}", "/orchestrators", None),
        ("a/{id?}", "/a", {}),
        ("a/{id?}", "/a/5", {"id": "5"}),
        ("a/{id=7}", "/a", {"id": "7"}),
        ("a/{id:int=7}", "/a/8", {"id": "8"}),
        ("a/{id:int}", "/a/-12", {"id": "-12"}),
        ("a/{id:int}", "/a/2147483648", None),
        ("a/{id:long}", "/a/2147483648", {"id": "2147483648"}),
        ("a/{id:int:min(10)}", "/a/9", None),
        ("a/{id:int:range(1,3)}", "/a/3", {"id": "3"}),
        ("a/{id:max(3)}", "/a/4", None),
        ("a/{flag:bool}", "/a/TRUE", {"flag": "TRUE"}),
        ("a/{flag:bool}", "/a/yes", None),
        (
            "a/{g:guid}",
            "/a/0f8fad5b-d9cb-469f-a165-70867728950e",
            {"g": "0f8fad5b-d9cb-469f-a165-70867728950e"},
        ),
        ("a/{g:guid}", "/a/zzz", None),
        ("a/{d:datetime}", "/a/2024-05-01T12:00:00Z", {"d": "2024-05-01T12:00:00Z"}),
        ("a/{x:double}", "/a/1.5", {"x": "1.5"}),
        ("a/{x:decimal}", "/a/abc", None),
        ("a/{s:alpha}", "/a/abc", {"s": "abc"}),
        ("a/{s:minlength(3)}", "/a/ab", None),
        ("a/{s:maxlength(3)}", "/a/abcd", None),
        ("a/{s:length(2)}", "/a/ab", {"s": "ab"}),
        ("a/{s:length(1,2)}", "/a/abc", None),
        ("a/{s:regex(^[a-c]+$)}", "/a/cab", {"s": "cab"}),
        ("a/{s:regex(^[a-c]+$)}", "/a/dab", None),
        ("files/{*path}", "/files/x/y%20z", {"path": "x/y z"}),
        ("files/{**path}", "/files", {}),
        ("{name}.{ext}", "/file.tar.gz", {"name": "file.tar", "ext": "gz"}),
        ("v/{id}", "/v/a%2Fb", {"id": "a/b"}),
        ("", "/", {}),
    ],
)
def test_route_templates(template: str, path: str, expected: dict[str, str] | None) -> None:
    assert RouteTemplate(template).match(path) == expected


@pytest.mark.parametrize(
    "template",
    [
        "a/{id:unknown}",
        "a/{id:min(x)}",
        "a/{id:regex(()}",
        "a/{*rest}/b",
        "a/{id?}/b",
        "a/{id}/{ID}",
        "a/{id",
        "a/id}",
        "a//b",
        "a/{1bad}",
    ],
)
def test_invalid_route_templates(template: str) -> None:
    with pytest.raises(RouteTemplateError):
        RouteTemplate(template)


def test_precedence_orders_literals_first() -> None:
    templates = [
        RouteTemplate(t) for t in ("items/{*rest}", "items/{id}", "items/{id:int}", "items/new")
    ]
    ordered = [t.template for t in sort_by_precedence(templates)]
    assert ordered == ["items/new", "items/{id:int}", "items/{id}", "items/{*rest}"]


# --------------------------------------------------------------------------------------------
# Keys
# --------------------------------------------------------------------------------------------


def test_keys_open_by_default() -> None:
    keys = HostKeys()
    assert not keys.enforced
    for level in AuthLevel:
        assert keys.allows(level, None)


def test_level_without_any_key_is_closed_once_enforced() -> None:
    keys = HostKeys(function_keys=("f",))
    assert keys.allows(AuthLevel.FUNCTION, "f")
    assert not keys.allows(AuthLevel.ADMIN, "f")
    assert not keys.allows(AuthLevel.SYSTEM, "f")
    assert keys.allows(AuthLevel.ANONYMOUS, None)


def test_presented_key_prefers_the_header() -> None:
    assert presented_key({"code": "q"}, {"x-functions-key": "h"}) == "h"
    assert presented_key({"Code": "q"}, {}) == "q"
    assert presented_key({}, {}) is None


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


# --------------------------------------------------------------------------------------------
# Binding JSON and response conversion
# --------------------------------------------------------------------------------------------


def test_durable_client_binding_shape() -> None:
    text = durable_client_binding(
        origin="http://localhost:7071",
        rpc_base_url="http://127.0.0.1:7071/durabletask/",
        hub_name="Hub",
        system_key="sys",
    )
    binding = json.loads(text)
    assert binding["taskHubName"] == "Hub"
    assert binding["rpcBaseUrl"] == "http://127.0.0.1:7071/durabletask/"
    assert binding["baseUrl"] == "http://localhost:7071/runtime/webhooks/durabletask"
    assert binding["requiredQueryStringParameters"] == "code=sys"
    assert binding["creationUrls"] == {
        "createNewInstancePostUri": "http://localhost:7071/runtime/webhooks/durabletask/"
        "orchestrators/{functionName}[/{instanceId}]?code=sys",
        "createAndWaitOnNewInstancePostUri": "http://localhost:7071/runtime/webhooks/durabletask/"
        "orchestrators/{functionName}[/{instanceId}]?timeout={timeoutInSeconds}"
        "&pollingInterval={intervalInSeconds}&code=sys",
    }
    urls = binding["managementUrls"]
    assert urls["id"] == "INSTANCEID"
    assert urls["statusQueryGetUri"] == (
        "http://localhost:7071/runtime/webhooks/durabletask/instances/INSTANCEID"
        "?taskHub=Hub&connection=Storage&code=sys"
    )
    assert set(urls) == {
        "id",
        "statusQueryGetUri",
        "sendEventPostUri",
        "terminatePostUri",
        "rewindPostUri",
        "purgeHistoryDeleteUri",
        "restartPostUri",
        "suspendPostUri",
        "resumePostUri",
    }
    with pytest.raises(ValueError, match="end with"):
        durable_client_binding(origin="x", rpc_base_url="http://a/durabletask", hub_name="h")


def test_response_conversion() -> None:
    result = to_http_result(
        "f", func.HttpResponse(b"{}", status_code=418, mimetype="application/json")
    )
    assert (result.status, result.body) == (418, b"{}")
    assert ("Content-Type", "application/json") in result.headers
    explicit = to_http_result(
        "f", func.HttpResponse("x", headers={"Content-Type": "text/csv", "X-A": "1"})
    )
    assert [h for h in explicit.headers if h[0].lower() == "content-type"] == [
        ("Content-Type", "text/csv")
    ]
    assert to_http_result("f", None).status == 204
    assert to_http_result("f", "hi").body == b"hi"
    with pytest.raises(HttpFunctionError, match="returned dict"):
        to_http_result("f", {"a": 1})


# --------------------------------------------------------------------------------------------
# The RPC surface answers this machine only
# --------------------------------------------------------------------------------------------


def _request(app: Any, path: str, peer: str, sock: str) -> Any:
    transport = mock.Mock()
    extra = {"peername": (peer, 50000), "sockname": (sock, 7071)}
    transport.get_extra_info.side_effect = lambda name, default=None: extra.get(name, default)
    return make_mocked_request("GET", path, app=app, transport=transport)


def test_local_request_detection() -> None:
    assert is_local_request(_request(None, "/", "127.0.0.1", "127.0.0.1"))
    assert is_local_request(_request(None, "/", "::1", "::1"))
    assert is_local_request(_request(None, "/", "10.0.0.5", "10.0.0.5"))
    assert not is_local_request(_request(None, "/", "10.0.0.9", "10.0.0.5"))
    assert rpc_base_url(_request(None, "/", "::1", "::1")) == "http://[::1]:7071/durabletask/"


async def test_rpc_surface_is_404_for_other_machines(basic_app: LoadedApp) -> None:
    runtime = DurableRuntime(basic_app.registry, SqliteStore(":memory:"), ManualClock())
    await runtime.start_new("wait_approval", instance_id="only")
    app = create_app(runtime, basic_app.registry)
    remote = _request(app, "/durabletask/instances/", "10.0.0.9", "10.0.0.5")
    with pytest.raises(web.HTTPNotFound):
        await dispatch(remote)
    # The public webhook base is open to other machines (keys permitting).
    public = _request(app, "/runtime/webhooks/durabletask/instances/", "10.0.0.9", "10.0.0.5")
    assert (await dispatch(public)).status == 200
    local = _request(app, "/durabletask/instances/", "127.0.0.1", "127.0.0.1")
    response = await dispatch(local)
    assert response.status == 200
    assert [item["instanceId"] for item in json.loads(response.text)] == ["only"]
