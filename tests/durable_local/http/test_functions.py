"""HTTP-triggered functions: routes, constraints, precedence, methods, request/response
conversion, sync/async, context, failures, and auth levels with and without keys."""

from __future__ import annotations

from typing import Any

import azure.functions as func
import pytest
from yarl import URL

from durable_local.http import HostKeys
from durable_local.worker.http_call import HttpFunctionError, to_http_result
from tests.fixture_apps import PREFIX_APP
from tests.helpers.host import Host


async def test_route_params_query_headers_and_url(host: Host) -> None:
    response = await host.client.get(
        "/api/items/42?color=red&size=1&size=2", headers={"X-Test": "yes"}
    )
    assert response.status == 200
    body = await response.json()
    assert body["function"] == "get_item"
    assert body["route"] == {"id": "42"}
    assert body["query"] == {"color": "red", "size": "1,2"}
    assert body["method"] == "GET"
    assert body["header"] == "yes"
    assert body["url"].endswith("/api/items/42?color=red&size=1&size=2")


async def test_literal_route_beats_parameter_and_constraints_select(host: Host) -> None:
    assert (await (await host.client.get("/api/items/new")).json())["function"] == "new_item"
    named = await (await host.client.get("/api/items/widget")).json()
    assert named == {"function": "named_item", "name": "widget"}
    # Neither int nor alpha: no route.
    response = await host.client.get("/api/items/a1")
    assert response.status == 404
    # Out of the int32 range: the int constraint fails too.
    assert (await host.client.get("/api/items/99999999999")).status == 404


async def test_paths_are_case_insensitive(host: Host) -> None:
    response = await host.client.get("/API/Items/7")
    assert response.status == 200
    assert (await response.json())["route"] == {"id": "7"}


async def test_wrong_method_is_404(host: Host) -> None:
    response = await host.client.delete("/api/items/7")
    assert response.status == 404
    assert response.content_type == "application/json"


async def test_async_function_gets_body_and_sets_status_headers_mimetype(host: Host) -> None:
    payload = bytes(range(256))
    response = await host.client.put(
        "/api/echo", data=payload, headers={"Content-Type": "application/x-custom"}
    )
    assert response.status == 201
    assert await response.read() == payload
    assert response.headers["X-Echo-Method"] == "PUT"
    assert response.headers["X-Echo-Type"] == "application/x-custom"
    assert response.headers["Content-Type"] == "application/octet-stream"


async def test_methods_absent_means_any_method(host: Host) -> None:
    for method in ("GET", "POST", "PATCH"):
        response = await host.client.request(method, "/api/text")
        assert response.status == 200, method
        assert await response.text() == "plain text"
        assert response.headers["Content-Type"] == "text/plain; charset=utf-8"


async def test_text_mimetype_gets_charset(host: Host) -> None:
    response = await host.client.get("/api/html")
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert await response.text() == "<b>hi</b>"


async def test_none_return_is_204(host: Host) -> None:
    response = await host.client.get("/api/nothing")
    assert response.status == 204


@pytest.mark.parametrize("route", ["raises", "bad_return"])
async def test_failing_function_is_500_with_empty_body(host: Host, route: str) -> None:
    response = await host.client.get(f"/api/{route}")
    assert response.status == 500
    assert await response.read() == b""
    # The server keeps serving.
    assert (await host.client.get("/api/text")).status == 200


async def test_context_parameter(host: Host) -> None:
    parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    body = await (await host.client.get("/api/ctx", headers={"TraceParent": parent})).json()
    assert body["trace_parent"] == parent
    assert body["function_name"] == "with_context"
    assert body["function_directory"] == str(host.loaded.app_dir)
    assert len(body["invocation_id"]) == 36


async def test_local_settings_reach_the_app(host: Host) -> None:
    body = await (await host.client.get("/api/setting")).json()
    assert body == {
        "fixture": "from-local-settings",
        "preset": "from-local-settings",
        "worker_runtime": "python",
    }


async def test_request_body_limit_applies_to_functions(make_host: Any) -> None:
    host = await make_host(max_body_size=100)
    response = await host.client.post("/api/echo", data=b"x" * 101)
    assert response.status == 413
    assert "Message" in await response.json()
    response = await host.client.post("/api/echo", data=b"x" * 100)
    assert response.status == 201


# --------------------------------------------------------------------------------------------
# Auth levels
# --------------------------------------------------------------------------------------------


async def test_without_keys_every_level_is_open(host: Host) -> None:
    assert (await host.client.get("/api/keyed")).status == 200
    assert (await host.client.get("/api/adminonly")).status == 200
    assert (await host.client.get("/runtime/webhooks/durabletask/instances")).status == 200
    assert (await host.client.get("/admin/host/status")).status == 200


KEYS = HostKeys(function_keys=("fkey",), master_key="mkey", system_key="skey")


@pytest.mark.parametrize(
    ("path", "good", "bad"),
    [
        ("/api/keyed", ["fkey", "mkey"], [None, "skey", "wrong"]),
        ("/api/adminonly", ["mkey"], [None, "fkey", "skey"]),
        ("/runtime/webhooks/durabletask/instances", ["skey", "mkey"], [None, "fkey"]),
        ("/admin/host/status", ["mkey"], [None, "fkey", "skey"]),
        ("/api/text", [None, "anything"], []),
    ],
)
async def test_keys_are_enforced_when_configured(
    make_host: Any, path: str, good: list[str | None], bad: list[str | None]
) -> None:
    host = await make_host(keys=KEYS)
    for key in good:
        query = {} if key is None else {"code": key}
        response = await host.client.get(path, params=query)
        assert response.status == 200, (path, key)
    for key in bad:
        query = {} if key is None else {"code": key}
        response = await host.client.get(path, params=query)
        assert response.status == 401, (path, key)
        assert "Message" in await response.json()


async def test_key_header_is_accepted(make_host: Any) -> None:
    host = await make_host(keys=KEYS)
    response = await host.client.get("/api/keyed", headers={"x-functions-key": "fkey"})
    assert response.status == 200


async def test_with_keys_the_sdk_client_still_works_and_urls_carry_the_system_key(
    make_host: Any,
) -> None:
    host = await make_host(keys=KEYS)
    response = await host.client.post("/api/orchestrators/hello_sequence", json="Bern")
    assert response.status == 202
    body = await response.json()
    assert body["statusQueryGetUri"].endswith("&code=skey")
    await host.finished(body["id"])
    # The management URL works as given; without the key it does not.
    status_url = URL(body["statusQueryGetUri"])
    status = await host.client.get(status_url.path_qs)
    assert status.status == 200
    assert (await status.json())["output"][-1] == "Hello Bern!"
    bare = status_url.path_qs.replace("&code=skey", "")
    assert (await host.client.get(bare)).status == 401
    binding = await (await host.client.get("/api/binding")).json()
    assert binding["creationUrls"]["createNewInstancePostUri"].endswith("?code=skey")


# --------------------------------------------------------------------------------------------
# An app with an empty route prefix and a hub name taken from an app setting
# --------------------------------------------------------------------------------------------


async def test_empty_route_prefix_and_hub_from_setting(make_host: Any) -> None:
    host = await make_host(PREFIX_APP)
    assert host.runtime.hub_name == "PrefixHub"
    response = await host.client.get("/hello/Ann")
    assert response.status == 200
    assert await response.text() == "Hi Ann from hub"  # the SDK sends a str output raw
    assert (await host.client.get("/api/hello/Ann")).status == 404
    # The reserved areas still win over an empty prefix.
    listing = await host.client.get("/runtime/webhooks/durabletask/instances?taskHub=PREFIXHUB")
    assert listing.status == 200
    assert len(await listing.json()) == 1


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
