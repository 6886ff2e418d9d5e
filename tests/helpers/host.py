"""The host harness: a loaded app served by the real runtime over an in-memory SQLite store,
through aiohttp's test client (fixtures in tests/durable_local/http/conftest.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp.test_utils import TestClient

from durable_local.functions.loader import LoadedApp
from durable_local.host import FunctionsHost, HostOptions
from durable_local.http import HostConfig, HostKeys
from durable_local.model import RuntimeStatus
from durable_local.runtime.client import DurableRuntime
from durable_local.runtime.clock import ManualClock


@dataclass
class Host:
    """A host under test: its HTTP test client, runtime, manual clock and app."""

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
    """``loaded`` on a fresh host (the composition root: ManualClock, SQLite in memory, user
    code in threads) behind the HTTP layer."""
    clock = ManualClock()
    config = HostConfig(
        route_prefix=loaded.settings.route_prefix,
        keys=keys or HostKeys(),
        app_dir=str(loaded.app_dir),
        **({"max_body_size": max_body_size} if max_body_size else {}),
    )
    host = FunctionsHost(loaded, HostOptions(config=config, clock=clock, in_process=True))
    client = await aiohttp_client(host.app)
    return Host(client=client, runtime=host.runtime, clock=clock, loaded=loaded)
