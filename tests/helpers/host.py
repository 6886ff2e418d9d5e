"""The host harness: a fixture app on ``durable_local.testing.DurableTestHost`` (the public
test host: the composition root with an in-memory store, a ManualClock and user code in
threads), seen through aiohttp's test client (fixtures in tests/durable_local/http/conftest.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp.test_utils import TestClient

from durable_local.functions.loader import LoadedApp
from durable_local.model import RuntimeStatus
from durable_local.runtime.client import DurableRuntime
from durable_local.runtime.clock import ManualClock
from durable_local.testing import DurableTestHost


@dataclass
class Host:
    """A host under test: its HTTP test client, runtime, manual clock and app."""

    client: TestClient[Any, Any]
    runtime: DurableRuntime
    clock: ManualClock
    loaded: LoadedApp

    @classmethod
    def of(cls, test_host: DurableTestHost) -> Host:
        clock = test_host.clock
        assert isinstance(clock, ManualClock)
        return cls(test_host.http, test_host.runtime, clock, test_host.loaded)

    async def idle(self) -> None:
        await self.runtime.wait_idle(timeout=20)

    async def finished(self, instance_id: str, *statuses: RuntimeStatus) -> dict[str, Any]:
        return await self.runtime.wait_for_status(instance_id, *statuses, timeout=20)


HostFactory = Callable[..., Any]
