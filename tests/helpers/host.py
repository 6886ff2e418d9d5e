"""Fixtures for the host tests: fixture apps loaded as the CLI loads them, served by the real
runtime over an in-memory SQLite store through aiohttp's test client."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from durable_local.clock import ManualClock
from durable_local.http import HostConfig, HostKeys, create_app
from durable_local.loader import LoadedApp, load_app
from durable_local.model import RuntimeStatus
from durable_local.runtime import DurableRuntime
from durable_local.store.sqlite import SqliteStore

FIXTURES = Path(__file__).parent / "fixtures"
BASIC_APP = FIXTURES / "basic_app"


@pytest.fixture(autouse=True)
def restore_environment() -> Iterator[None]:
    """Loading an app writes local.settings.json Values into os.environ: undo it per test."""
    saved = dict(os.environ)
    cwd = os.getcwd()
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
        os.chdir(cwd)


@pytest.fixture
def basic_app() -> LoadedApp:
    return load_app(BASIC_APP)


@dataclass
class Host:
    client: TestClient[Any, Any]
    runtime: DurableRuntime
    clock: ManualClock
    loaded: LoadedApp

    async def idle(self) -> None:
        await self.runtime.wait_idle(timeout=20)

    async def finished(self, instance_id: str, *statuses: RuntimeStatus) -> dict[str, Any]:
        return await self.runtime.wait_for_status(instance_id, *statuses, timeout=20)


HostFactory = Callable[..., Any]


@pytest.fixture
async def make_host(aiohttp_client: Any) -> AsyncIterator[HostFactory]:
    async def make(
        loaded: LoadedApp | None = None,
        *,
        keys: HostKeys | None = None,
        max_body_size: int | None = None,
    ) -> Host:
        app_info = loaded or load_app(BASIC_APP)
        clock = ManualClock()
        runtime = DurableRuntime(
            app_info.registry,
            SqliteStore(":memory:"),
            clock,
            hub_name=app_info.settings.hub_name,
            app_dir=str(app_info.app_dir),
        )
        config = HostConfig(
            route_prefix=app_info.settings.route_prefix,
            keys=keys or HostKeys(),
            app_dir=str(app_info.app_dir),
            **({"max_body_size": max_body_size} if max_body_size else {}),
        )
        app = create_app(runtime, app_info.registry, config, manage_runtime=True)
        client = await aiohttp_client(app)
        return Host(client=client, runtime=runtime, clock=clock, loaded=app_info)

    yield make


@pytest.fixture
async def host(make_host: HostFactory) -> Host:
    result: Host = await make_host()
    return result
