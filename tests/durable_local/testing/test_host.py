"""DurableTestHost's life cycle: the app loaded as `durable-local start` loads it, served on
loopback, talked to through the SDK's own client and an HTTP test client, and the process given
back as it was (environment, modules) on exit."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import aiohttp
import pytest

from durable_local.testing import (
    AppLoadError,
    DurableTestError,
    DurableTestHost,
    HostKeys,
    RuntimeStatus,
    UnknownInstanceError,
)
from tests.fixture_apps import ORDERS_APP, TESTING_APP
from tests.helpers.apps import write_app


async def test_settings_override_local_settings_for_the_hosts_lifetime() -> None:
    os.environ.pop("GREETING", None)
    async with DurableTestHost(TESTING_APP, settings={"GREETING": "from the test"}) as host:
        response = await host.http.get("/api/setting/GREETING")
        assert await response.text() == "from the test"
        # Values of local.settings.json the test did not override are applied as by the CLI.
        response = await host.http.get("/api/setting/COLOR")
        assert await response.text() == "blue"
        # Activities see them too (user code runs in this process).
        iid = await host.client.start_new("settings_reader", None, "GREETING")
        assert (await host.wait_for_status(iid)).output == "from the test"
    assert "GREETING" not in os.environ
    assert "COLOR" not in os.environ


async def test_non_string_settings_are_written_as_json_text() -> None:
    async with DurableTestHost(TESTING_APP, settings={"RETRIES": 3, "FLAGS": [1]}) as host:
        assert (await (await host.http.get("/api/setting/RETRIES")).text()) == "3"
        assert (await (await host.http.get("/api/setting/FLAGS")).text()) == "[1]"


async def test_a_setting_already_in_the_environment_is_restored_after_the_override(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLOR", "green")
    async with DurableTestHost(TESTING_APP, settings={"COLOR": "red"}) as host:
        assert (await (await host.http.get("/api/setting/COLOR")).text()) == "red"
    assert os.environ["COLOR"] == "green"


async def test_the_app_is_unloaded_on_exit() -> None:
    async with DurableTestHost(TESTING_APP) as host:
        assert sys.modules["function_app"] is host.loaded.module
        assert str(TESTING_APP) in sys.path
    assert "function_app" not in sys.modules
    assert str(TESTING_APP) not in sys.path


async def test_the_sdk_client_is_bound_to_the_host() -> None:
    async with DurableTestHost(TESTING_APP) as host:
        iid = await host.client.start_new("reminders", "my-reminders", 0)
        assert iid == "my-reminders"
        await host.wait_for_status(iid, RuntimeStatus.COMPLETED)
        status = await host.client.get_status(iid)
        assert status.runtime_status is not None
        assert status.runtime_status.value == "Completed"
        assert status.output == []
        # The management URLs the SDK builds name the host's task hub (host.json).
        payload = host.client.create_http_management_payload(iid)
        assert payload["statusQueryGetUri"].startswith(f"{host.url}/runtime/webhooks/")
        assert "taskHub=TestingHub" in payload["statusQueryGetUri"]


async def test_http_serves_the_apps_routes_and_the_durable_api() -> None:
    async with DurableTestHost(TESTING_APP) as host:
        iid = await host.client.start_new("tolerant")
        await host.wait_for_status(iid)
        response = await host.http.get(f"/runtime/webhooks/durabletask/instances/{iid}")
        assert response.status == 200
        body = await response.json()
        assert body["runtimeStatus"] == "Completed"
        assert body["output"] == "note recovered"


async def test_url_is_a_real_loopback_address() -> None:
    async with DurableTestHost(TESTING_APP) as host:
        assert host.url.startswith("http://127.0.0.1:")
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{host.url}/api/setting/COLOR") as response,
        ):
            assert await response.text() == "blue"


async def test_an_app_that_fails_to_import_is_reported_with_its_traceback(
    tmp_path: Path,
) -> None:
    app_dir = write_app(
        tmp_path / "broken",
        "import azure.functions as func\n\ndef helper():\n    return 1 / 0\n\nhelper()\n",
    )
    with pytest.raises(AppLoadError) as caught:
        async with DurableTestHost(app_dir, settings={"ONLY_FOR_THIS_HOST": "x"}):
            pass  # pragma: no cover - never entered
    message = str(caught.value)
    assert str(app_dir) in message
    assert "ZeroDivisionError" in message
    assert "Traceback" in message and "helper()" in message
    # The failed start leaves nothing behind.
    assert "ONLY_FOR_THIS_HOST" not in os.environ
    assert "function_app" not in sys.modules


async def test_a_folder_without_an_app_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(AppLoadError, match=r"No function_app\.py"):
        async with DurableTestHost(tmp_path):
            pass  # pragma: no cover - never entered


async def test_using_a_host_that_is_not_started_is_a_clear_error() -> None:
    host = DurableTestHost(TESTING_APP)
    with pytest.raises(DurableTestError, match="not started"):
        _ = host.client
    with pytest.raises(DurableTestError, match="not started"):
        await host.wait_idle()


async def test_start_and_close_without_a_with_block() -> None:
    host = DurableTestHost(TESTING_APP)
    await host.start()
    try:
        iid = await host.client.start_new("reminders", None, 0)
        assert (await host.wait_for_status(iid)).runtime_status == RuntimeStatus.COMPLETED
    finally:
        await host.close()
    await host.close()  # idempotent
    assert "function_app" not in sys.modules


async def test_keys_and_a_body_limit_are_enforced_when_given() -> None:
    keys = HostKeys(system_key="sys-key")
    async with DurableTestHost(TESTING_APP, keys=keys, max_body_size=64) as host:
        api = "/runtime/webhooks/durabletask/instances"
        assert (await host.http.get(api)).status == 401
        assert (await host.http.get(api, params={"code": "sys-key"})).status == 200
        # The SDK client still works, and the URLs it builds carry the system key.
        iid = await host.client.start_new("reminders", None, 0)
        assert (await host.wait_for_status(iid)).runtime_status == RuntimeStatus.COMPLETED
        payload = host.client.create_http_management_payload(iid)
        assert "code=sys-key" in payload["statusQueryGetUri"]
        sleeping = await host.client.start_new("sleeper", None, 1)
        await host.wait_for_status(sleeping, RuntimeStatus.RUNNING)
        big = await host.http.post(
            f"{api}/{sleeping}/raiseEvent/x", params={"code": "sys-key"}, json="x" * 100
        )
        assert big.status == 413


async def test_two_apps_can_be_hosted_at_once() -> None:
    async with DurableTestHost(TESTING_APP) as first, DurableTestHost(ORDERS_APP) as second:
        first_id = await first.client.start_new("tolerant")
        second_id = await second.client.start_new("price_basket", None, [{"sku": "pear", "qty": 2}])
        assert (await first.wait_for_status(first_id)).output == "note recovered"
        assert (await second.wait_for_status(second_id)).output == 8
        with pytest.raises(UnknownInstanceError):
            first.status(second_id)
    assert "function_app" not in sys.modules
