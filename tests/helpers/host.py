"""The host harness: a loaded app served by the real runtime over an in-memory SQLite store,
through aiohttp's test client (fixtures in tests/durable_local/http/conftest.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp.test_utils import TestClient

from durable_local.clock import ManualClock
from durable_local.http import HostConfig, HostKeys, create_app
from durable_local.loader import LoadedApp
from durable_local.model import RuntimeStatus
from durable_local.runtime import DurableRuntime
from durable_local.store.sqlite import SqliteStore


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


async def serve(
    aiohttp_client: Any,
    loaded: LoadedApp,
    *,
    keys: HostKeys | None = None,
    max_body_size: int | None = None,
) -> Host:
    """``loaded`` on a fresh runtime (ManualClock, SQLite in memory) behind the HTTP layer."""
    clock = ManualClock()
    runtime = DurableRuntime(
        loaded.registry,
        SqliteStore(":memory:"),
        clock,
        hub_name=loaded.settings.hub_name,
        app_dir=str(loaded.app_dir),
    )
    config = HostConfig(
        route_prefix=loaded.settings.route_prefix,
        keys=keys or HostKeys(),
        app_dir=str(loaded.app_dir),
        **({"max_body_size": max_body_size} if max_body_size else {}),
    )
    app = create_app(runtime, loaded.registry, config, manage_runtime=True)
    client = await aiohttp_client(app)
    return Host(client=client, runtime=runtime, clock=clock, loaded=loaded)
