"""The dashboard's server side over HTTP: where it is mounted, its files and headers, and its
JSON endpoints (the app's functions, a name-filtered page with its own token, counts per status),
including bad input answered with clear JSON errors."""

from __future__ import annotations

from pathlib import Path

from durable_local.cli import dashboard_banner
from durable_local.http import HostKeys
from durable_local.http.dashboard import DEFAULT_BASE, FALLBACK_BASE, dashboard_path
from durable_local.model import RuntimeStatus
from tests.helpers.apps import write_app
from tests.helpers.host import Host, HostFactory

CATCH_ALL_APP = """
import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.route(route="{*path}", methods=["GET"])
def everything(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("the app's own page")
"""
EMPTY_PREFIX = '{"version": "2.0", "extensions": {"http": {"routePrefix": ""}}}'


async def test_the_page_is_served_at_dashboard_with_same_origin_headers(host: Host) -> None:
    response = await host.client.get("/dashboard/")
    assert response.status == 200
    assert response.content_type == "text/html"
    page = await response.text()
    assert '<script src="static/dashboard.js" defer></script>' in page
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "script-src 'self'" in policy
    assert response.headers["X-Frame-Options"] == "DENY"
    assert dashboard_path(host.client.app) == "/dashboard/"


async def test_without_the_slash_it_redirects(host: Host) -> None:
    response = await host.client.get("/dashboard", allow_redirects=False)
    assert response.status == 302
    assert response.headers["Location"] == "/dashboard/"


async def test_every_shipped_asset_is_served_and_nothing_else(host: Host) -> None:
    script = await host.client.get("/dashboard/static/dashboard.js")
    assert script.status == 200
    assert script.content_type == "text/javascript"
    bundled = await script.text()
    assert "\nimport " not in bundled and "\nexport " not in bundled
    assert bundled.index("// ---- dom.js") < bundled.index("// ---- app.js")
    module = await host.client.get("/dashboard/static/js/list.js")
    assert module.status == 200 and "export class InstancesView" in await module.text()
    style = await host.client.get("/dashboard/static/dashboard.css")
    assert style.status == 200 and style.content_type == "text/css"
    missing = await host.client.get("/dashboard/static/nope.js")
    assert missing.status == 404
    assert (await missing.json())["ExceptionMessage"] == "The dashboard has no file 'nope.js'."
    sneaky = await host.client.get("/dashboard/static/..%2F__init__.py")
    assert sneaky.status == 404


def test_no_asset_reaches_the_internet() -> None:
    static = Path(__file__).parents[4] / "durable-local/src/durable_local/http/dashboard/static"
    for path in static.rglob("*"):
        if path.is_file():
            text = path.read_text()
            assert "http://" not in text and "https://" not in text, path


async def test_functions_by_kind_with_their_urls(host: Host) -> None:
    response = await host.client.get("/dashboard/api/functions")
    body = await response.json()
    assert body["taskHub"] == "HostTestHub"
    keyed = next(f for f in body["http"] if f["name"] == "keyed")
    origin = str(host.client.make_url("")).rstrip("/")
    assert keyed["url"] == f"{origin}/api/keyed"
    assert keyed["authLevel"] == "function"
    assert "hello_sequence" in [o["name"] for o in body["orchestrators"]]
    assert "say_hello" in [a["name"] for a in body["activities"]]


async def _started(host: Host, name: str, count: int, prefix: str) -> list[str]:
    ids = [await host.runtime.start_new(name, None, f"{prefix}{i:03d}") for i in range(count)]
    await host.idle()
    return ids


async def test_a_name_filtered_page_continues_where_it_stopped(host: Host) -> None:
    waiting = await _started(host, "wait_approval", 7, "w")
    await _started(host, "hello_sequence", 5, "h")
    seen: list[str] = []
    token = ""
    for _ in range(5):
        response = await host.client.get(
            "/dashboard/api/instances",
            params={"name": "APPROVAL", "top": "3"},
            headers={"x-ms-continuation-token": token} if token else {},
        )
        body = await response.json()
        seen += [item["instanceId"] for item in body["items"]]
        assert response.headers["x-ms-continuation-token"] == (body["continuationToken"] or "")
        token = body["continuationToken"]
        if not token:
            break
    assert seen == waiting


async def test_counts_per_status_and_a_histogram_of_starts(host: Host) -> None:
    await _started(host, "wait_approval", 2, "w")
    done = await _started(host, "hello_sequence", 3, "h")
    await host.finished(done[-1], RuntimeStatus.COMPLETED)
    response = await host.client.get(
        "/dashboard/api/summary", params={"runtimeStatus": "Completed"}
    )
    body = await response.json()
    assert body["counts"]["Running"] == 2 and body["counts"]["Completed"] == 3
    assert body["total"] == 5
    assert sum(body["histogram"]["counts"]) == 3  # the histogram honours the status filter


async def test_bad_input_gets_clear_json_errors(host: Host) -> None:
    cases = [
        ({"top": "lots"}, "The 'top' parameter must be an integer."),
        ({"top": "0"}, "The 'top' parameter must be between 1 and 1000."),
        ({"runtimeStatus": "Sleeping"}, "Unknown runtimeStatus 'Sleeping'"),
        ({"createdTimeFrom": "yesterday"}, "The 'createdTimeFrom' parameter is not a valid"),
        ({"continuationToken": "%%%"}, "The continuation token is not valid."),
    ]
    for params, message in cases:
        response = await host.client.get("/dashboard/api/instances", params=params)
        assert response.status == 400, params
        assert response.content_type == "application/json"
        assert (await response.json())["ExceptionMessage"].startswith(message)


async def test_with_keys_enforced_the_page_is_open_and_the_data_needs_the_key(
    make_host: HostFactory,
) -> None:
    host: Host = await make_host(keys=HostKeys(master_key="master-secret"))
    assert (await host.client.get("/dashboard/")).status == 200
    assert (await host.client.get("/dashboard/api/functions")).status == 401
    keyed = await host.client.get(
        "/dashboard/api/functions", headers={"x-functions-key": "master-secret"}
    )
    assert keyed.status == 200


async def test_the_app_wins_and_the_dashboard_moves(make_host: HostFactory, tmp_path: Path) -> None:
    root = write_app(tmp_path / "app", CATCH_ALL_APP, host__json=EMPTY_PREFIX)
    host: Host = await make_host(root)
    assert dashboard_path(host.client.app) == FALLBACK_BASE + "/"
    assert await (await host.client.get("/dashboard/")).text() == "the app's own page"
    moved = await host.client.get(FALLBACK_BASE + "/")
    assert moved.status == 200 and "durable-local dashboard" in await moved.text()
    banner = dashboard_banner("http://127.0.0.1:7071", dashboard_path(host.client.app))
    assert banner.startswith("Dashboard: http://127.0.0.1:7071/runtime/dashboard/")
    assert f"an app route takes {DEFAULT_BASE}/" in banner


def test_the_banner_names_the_dashboard() -> None:
    assert dashboard_banner("http://127.0.0.1:7071", "/dashboard/") == (
        "Dashboard: http://127.0.0.1:7071/dashboard/"
    )
