"""The runtime harness: ``DurableRuntime`` on the runtime fixture app (tests/fixture_apps/
runtime_app.py), a ManualClock and an in-memory SQLite store; the ``h`` fixture is in
tests/durable_local/runtime/conftest.py."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from durable_local.model import EventType
from durable_local.runtime.client import DurableRuntime
from durable_local.runtime.clock import ManualClock


@dataclass
class Harness:
    rt: DurableRuntime
    clock: ManualClock

    async def start(self, name: str, value: Any = None, instance_id: str | None = None) -> str:
        """Start as the SDK client does: the input is sent as its JSON text (spec §4.3)."""
        return await self.rt.start_new(name, sdk_input(value), instance_id)

    async def run(self, name: str, value: Any = None, instance_id: str | None = None) -> str:
        iid = await self.start(name, value, instance_id)
        await self.rt.wait_idle()
        return iid

    async def status(self, iid: str, **flags: bool) -> dict[str, Any]:
        return await self.rt.get_status(iid, **flags)

    async def advance(self, delta: timedelta) -> None:
        self.clock.advance(delta)
        await self.rt.wait_idle()

    def history(self, iid: str) -> list[dict[str, Any]]:
        return [json.loads(text) for text in self.rt.store.load_history(iid)]

    def types(self, iid: str) -> list[int]:
        return [e["EventType"] for e in self.history(iid)]


def sdk_input(value: Any) -> str | None:
    """What DurableOrchestrationClient.start_new sends: df_dumps(value), or nothing for None."""
    return None if value is None else json.dumps(value)


def of_type(events: list[dict[str, Any]], kind: EventType) -> list[dict[str, Any]]:
    return [e for e in events if e["EventType"] == kind]
