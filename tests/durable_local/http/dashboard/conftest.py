"""Fixtures for the dashboard's browser tests: the dashboard fixture app served by a real
durable-local host (``FunctionsHost`` on 127.0.0.1:0, system clock, user code in threads) and a
page of Debian's Chromium driven by Playwright. Without Chromium the browser tests skip."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from devtools.browser import CHROMIUM, CHROMIUM_ARGS
from durable_local.host import FunctionsHost, HostOptions
from durable_local.http import HostConfig, HostKeys
from durable_local.model import RuntimeStatus
from tests.durable_local.http.dashboard.browser import missing_browser
from tests.fixture_apps import DASHBOARD_APP
from tests.helpers.apps import AppLoader


@dataclass
class Live:
    """A host served over TCP: its base URL and runtime, and the page's errors."""

    host: FunctionsHost
    base: str
    page_errors: list[str] = field(default_factory=list)

    @property
    def dashboard(self) -> str:
        return f"{self.base}/dashboard/"

    async def start(self, name: str, input: Any = None, instance_id: str | None = None) -> str:
        return await self.host.runtime.start_new(name, input, instance_id)

    async def finished(self, instance_id: str, *statuses: RuntimeStatus) -> dict[str, Any]:
        result: dict[str, Any] = await self.host.runtime.wait_for_status(
            instance_id, *statuses, timeout=20
        )
        return result


LiveFactory = Callable[..., Awaitable[Live]]


@pytest.fixture
async def serve_dashboard(app_loader: AppLoader) -> AsyncIterator[LiveFactory]:
    hosts: list[FunctionsHost] = []

    async def serve(keys: HostKeys | None = None) -> Live:
        loaded = app_loader(DASHBOARD_APP)
        config = HostConfig(
            route_prefix=loaded.settings.route_prefix,
            keys=keys or HostKeys(),
            app_dir=str(loaded.app_dir),
        )
        host = FunctionsHost(loaded, HostOptions(config=config, in_process=True))
        hosts.append(host)
        return Live(host=host, base=await host.serve("127.0.0.1", 0))

    try:
        yield serve
    finally:
        for host in hosts:
            await host.close()


@pytest.fixture
async def live(serve_dashboard: LiveFactory) -> Live:
    return await serve_dashboard()


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    reason = missing_browser()
    if reason:
        pytest.skip(reason)
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            await chromium.close()


@pytest.fixture
async def page(browser: Any) -> AsyncIterator[Any]:
    """A fresh page; a script error on it fails the test."""
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.set_default_timeout(15_000)
    try:
        yield page
    finally:
        await context.close()
    assert errors == [], errors
