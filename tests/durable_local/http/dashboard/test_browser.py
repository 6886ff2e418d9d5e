"""The dashboard in a real browser (Playwright driving /usr/bin/chromium) against a real
durable-local serving the dashboard fixture app: what a user sees and does."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from durable_local.http import HostKeys
from durable_local.model import RuntimeStatus
from tests.durable_local.http.dashboard.conftest import Live, LiveFactory

pytestmark = pytest.mark.slow
expect = pytest.importorskip("playwright.async_api").expect


def _row(page: Any, instance_id: str) -> Any:
    return page.locator(f'tr[data-id="{instance_id}"]')


async def test_the_list_shows_instances_counts_and_starts(live: Live, page: Any) -> None:
    await live.start("greet_sequence", None, "greet-1")
    await live.start("wait_approval", "me", "wait-1")
    await live.finished("greet-1")
    await page.goto(live.dashboard)
    await expect(_row(page, "greet-1")).to_contain_text("Completed")
    await expect(_row(page, "wait-1")).to_contain_text("Running")
    await expect(_row(page, "wait-1")).to_contain_text("wait_approval")
    await expect(page.locator('[data-count="Completed"]').first).to_have_text("1")
    await expect(page.locator('[data-count="Running"]').first).to_have_text("1")
    await expect(page.locator("#total")).to_have_text("2 instances")
    bars = page.locator("#histogram .bar")
    assert sum([int(await bar.get_attribute("data-count")) for bar in await bars.all()]) == 2


async def test_the_list_refreshes_live_without_a_reload(live: Live, page: Any) -> None:
    await live.start("wait_approval", "me", "first")
    await page.goto(live.dashboard)
    await expect(_row(page, "first")).to_be_visible()
    await page.evaluate("window.marker = 'same page'")
    await live.start("wait_approval", "me", "arrived-later")
    await expect(_row(page, "arrived-later")).to_be_visible()
    assert await page.evaluate("window.marker") == "same page"


async def test_filters_by_status_name_prefix_and_created_time(live: Live, page: Any) -> None:
    for i in range(3):
        await live.start("wait_approval", "me", f"order-{i}")
    await live.start("greet_sequence", None, "greet-1")
    await live.finished("greet-1")
    await page.goto(live.dashboard)
    await expect(page.locator("tr[data-id]")).to_have_count(4)

    await page.get_by_label("Name").fill("greet")
    await page.get_by_role("button", name="Apply").click()
    await expect(page.locator("tr[data-id]")).to_have_count(1)
    await expect(_row(page, "greet-1")).to_be_visible()
    assert "name=greet" in page.url

    await page.get_by_role("button", name="Clear").click()
    await page.get_by_label("Instance ID prefix").fill("order-")
    await page.get_by_role("button", name="Apply").click()
    await expect(page.locator("tr[data-id]")).to_have_count(3)

    await page.get_by_role("button", name="Clear").click()
    await page.locator('input[name="status"][value="Completed"]').check()
    await expect(page.locator("tr[data-id]")).to_have_count(1)
    await expect(_row(page, "greet-1")).to_be_visible()

    await page.get_by_role("button", name="Clear").click()
    await page.locator('input[name="from"]').fill("2000-01-01T00:00:00")
    await page.locator('input[name="to"]').fill("2000-12-31T00:00:00")
    await page.get_by_role("button", name="Apply").click()
    await expect(page.get_by_text("No instances match.")).to_be_visible()


async def test_pages_through_the_continuation_token(live: Live, page: Any) -> None:
    ids = [await live.start("wait_approval", "me", f"many-{i:03d}") for i in range(60)]
    await page.goto(live.dashboard)
    await expect(page.locator("tr[data-id]")).to_have_count(50)
    await expect(page.locator("tr[data-id]").first).to_have_attribute("data-id", ids[0])
    await page.get_by_role("button", name="Next page").click()
    await expect(page.locator("tr[data-id]")).to_have_count(10)
    await expect(page.locator("tr[data-id]").first).to_have_attribute("data-id", ids[50])
    await expect(page.get_by_role("button", name="Next page")).to_be_disabled()
    await page.get_by_role("button", name="Previous").click()
    await expect(page.locator("tr[data-id]")).to_have_count(50)


async def test_a_click_opens_the_instance_with_its_timeline_and_children(
    live: Live, page: Any
) -> None:
    devices = ["alpha", "beta", "gamma"]
    await live.start("devices_run", json.dumps(devices), "run-1")
    await live.finished("run-1")
    await page.goto(live.dashboard)
    await _row(page, "run-1").click()
    await expect(page.locator("h1.instance-id")).to_have_text("run-1")
    await expect(page.locator("#status")).to_have_text("Completed")
    await expect(page.locator("#output")).to_contain_text('"devices": 3')
    timeline = page.locator("#timeline .g-row")
    await expect(timeline).to_have_count(3)
    await expect(timeline.first).to_contain_text("device_flow")
    await expect(timeline.first.locator(".g-time")).to_have_text(re.compile(r"\d+(\.\d+)? (ms|s)"))
    children = page.locator("#children li")
    await expect(children).to_have_count(3)
    await expect(page.locator("#children-summary")).to_have_text("3 children: 3 Completed")
    await expect(page.locator('[data-child="run-1:device:beta"]')).to_contain_text('"beta"')

    await page.get_by_role("link", name="run-1:device:beta").click()
    await expect(page.locator("h1.instance-id")).to_have_text("run-1:device:beta")
    await expect(page.locator("#timeline .g-row")).to_contain_text("provision")
    await page.locator("#parent").get_by_role("link", name="run-1").click()
    await expect(page.locator("h1.instance-id")).to_have_text("run-1")


async def test_timers_on_the_timeline_and_the_full_history_on_demand(live: Live, page: Any) -> None:
    await live.start("greet_sequence", None, "greet-1")
    await live.finished("greet-1")
    await page.goto(f"{live.dashboard}#/instance/greet-1")
    await expect(page.locator('#timeline .g-row[data-kind="timer"]')).to_have_count(1)
    await expect(page.locator('#timeline .g-row[data-kind="activity"]')).to_have_count(2)
    await expect(page.locator("#history table")).to_have_count(0)
    await page.get_by_role("button", name="Show full history").click()
    history = page.locator("#history table")
    await expect(history).to_contain_text("ExecutionStarted")
    await expect(history).to_contain_text("TimerFired")
    await expect(history).to_contain_text("Hello Seattle!")  # outputs come with the history


async def test_raising_an_event_completes_the_waiting_orchestration(live: Live, page: Any) -> None:
    await live.start("wait_approval", "me", "approve-me")
    await page.goto(f"{live.dashboard}#/instance/approve-me")
    await expect(page.locator("#custom")).to_contain_text("waiting for Approval")
    await page.get_by_role("button", name="Raise event").click()
    dialog = page.locator("#action-dialog")
    await dialog.get_by_label("Event name").fill("Approval")
    await dialog.get_by_label("Data (JSON)").fill('{"by": "alice", }')
    await expect(dialog.locator("#json-state")).to_contain_text("not valid JSON")
    await expect(dialog.locator("#action-confirm")).to_be_disabled()
    await dialog.get_by_label("Data (JSON)").fill('{"by": "alice"}')
    await expect(dialog.locator("#json-state")).to_have_text("Valid JSON")
    await dialog.locator("#action-confirm").click()
    await expect(dialog).to_be_hidden()
    await expect(page.locator("#status")).to_have_text("Completed")
    await expect(page.locator("#output")).to_contain_text('"by": "alice"')
    status = await live.finished("approve-me")
    assert status["output"] == {"approval": {"by": "alice"}}


async def test_terminate_asks_first_then_terminates(live: Live, page: Any) -> None:
    await live.start("wait_approval", "me", "stop-me")
    await page.goto(f"{live.dashboard}#/instance/stop-me")
    await expect(page.locator("#status")).to_have_text("Running")
    await page.get_by_role("button", name="Terminate").click()
    dialog = page.locator("#action-dialog")
    await expect(dialog).to_contain_text("Terminate this instance?")
    await dialog.get_by_role("button", name="Cancel").click()
    await expect(dialog).to_be_hidden()
    assert (await live.host.runtime.get_status("stop-me"))["runtimeStatus"] == "Running"

    await page.get_by_role("button", name="Terminate").click()
    await dialog.get_by_label("Reason").fill("no longer needed")
    await dialog.locator("#action-confirm").click()
    await expect(page.locator("#status")).to_have_text("Terminated")
    await expect(page.locator("#output")).to_contain_text("no longer needed")
    status = await live.finished("stop-me", RuntimeStatus.TERMINATED)
    assert status["output"] == "no longer needed"


async def test_the_apis_refusal_is_shown(live: Live, page: Any) -> None:
    await live.start("greet_sequence", None, "done-1")
    await live.finished("done-1")
    await page.goto(f"{live.dashboard}#/instance/done-1")
    await expect(page.locator("#status")).to_have_text("Completed")
    await page.get_by_role("button", name="Raise event").click()
    dialog = page.locator("#action-dialog")
    await dialog.get_by_label("Event name").fill("Late")
    await dialog.locator("#action-confirm").click()
    error = dialog.locator("#action-error")
    await expect(error).to_be_visible()
    await expect(error).to_contain_text("The API refused: 410")
    await expect(dialog).to_be_visible()  # stays open, so the user can read it


async def test_suspend_and_resume(live: Live, page: Any) -> None:
    await live.start("wait_approval", "me", "pause-me")
    await page.goto(f"{live.dashboard}#/instance/pause-me")
    await expect(page.locator("#status")).to_have_text("Running")
    dialog = page.locator("#action-dialog")
    await page.get_by_role("button", name="Suspend").click()
    await dialog.locator("#action-confirm").click()
    await expect(page.locator("#status")).to_have_text("Suspended")
    await page.get_by_role("button", name="Resume").click()
    await dialog.locator("#action-confirm").click()
    await expect(page.locator("#status")).to_have_text("Running")


async def test_purge_removes_the_instance(live: Live, page: Any) -> None:
    await live.start("greet_sequence", None, "purge-me")
    await live.finished("purge-me")
    await page.goto(f"{live.dashboard}#/instance/purge-me")
    await expect(page.locator("#status")).to_have_text("Completed")
    await page.get_by_role("button", name="Purge").click()
    await page.locator("#action-dialog #action-confirm").click()
    await expect(page.locator("h1")).to_have_text("Instances")
    await expect(page.get_by_text("No instances match.")).to_be_visible()


async def test_the_functions_view_lists_functions_by_kind(live: Live, page: Any) -> None:
    await page.goto(f"{live.dashboard}#/functions")
    http = page.locator("#http-functions")
    await expect(http).to_contain_text("start")
    await expect(http).to_contain_text(f"{live.base}/api/start/{{name}}")
    await expect(page.locator("#orchestrator-functions")).to_contain_text("devices_run")
    await expect(page.locator("#activity-functions")).to_contain_text("provision")


async def test_keys_enforced_asks_for_the_master_key_once(
    serve_dashboard: LiveFactory, page: Any
) -> None:
    live = await serve_dashboard(keys=HostKeys(master_key="m-secret", system_key="s-secret"))
    await live.start("wait_approval", "me", "keyed-1")
    urls: list[str] = []
    page.on("request", lambda request: urls.append(request.url))
    await page.goto(live.dashboard)
    key_dialog = page.locator("#key-dialog")
    await expect(key_dialog).to_be_visible()
    await key_dialog.get_by_label("Master key").fill("wrong")
    await key_dialog.get_by_role("button", name="Use key").click()
    await expect(key_dialog.locator("#key-error")).to_contain_text("refused")
    await key_dialog.get_by_label("Master key").fill("m-secret")
    await key_dialog.get_by_role("button", name="Use key").click()
    await expect(_row(page, "keyed-1")).to_be_visible()
    assert await page.evaluate("sessionStorage.getItem('durable-local.master-key')") == "m-secret"

    await _row(page, "keyed-1").click()  # another view, more requests: no second prompt
    await expect(page.locator("#status")).to_have_text("Running")
    await expect(key_dialog).to_be_hidden()
    assert urls and not any("secret" in url or "code=" in url for url in urls)


async def test_restart_opens_the_new_instance(live: Live, page: Any) -> None:
    await live.start("greet_sequence", None, "again-1")
    await live.finished("again-1")
    await page.goto(f"{live.dashboard}#/instance/again-1")
    await expect(page.locator("#status")).to_have_text("Completed")
    await page.get_by_role("button", name="Restart").click()
    await expect(page.locator("#action-dialog")).to_contain_text("original input")
    await page.locator("#action-dialog #action-confirm").click()
    heading = page.locator("h1.instance-id")
    await expect(heading).not_to_have_text("again-1")
    new_id = await heading.text_content()
    await live.finished(new_id)
    await expect(page.locator("#status")).to_have_text("Completed")
    await expect(page.locator("#timeline .g-row")).to_have_count(3)


async def test_no_key_given_shows_why_nothing_is_listed(
    serve_dashboard: LiveFactory, page: Any
) -> None:
    live = await serve_dashboard(keys=HostKeys(master_key="m-secret"))
    await page.goto(live.dashboard)
    await expect(page.locator("#key-dialog")).to_be_visible()
    await page.keyboard.press("Escape")
    await expect(page.locator("#list-error")).to_contain_text("no master key was given")
