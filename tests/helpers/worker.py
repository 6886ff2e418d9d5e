"""The language worker harness: outcomes collected by key, first-episode payloads, process
checks (fixtures in tests/durable_local/worker/conftest.py)."""

from __future__ import annotations

import asyncio
import json
import os
import time
from datetime import UTC, datetime
from typing import Any

from durable_local.engine import events as ev
from durable_local.engine.orchestration.payload import build_context_json
from durable_local.functions.loader import LoadedApp
from durable_local.functions.registry import OrchestratorFunction
from durable_local.worker.invoke import ActivityOutcome

WAIT = 10.0  # seconds any single outcome may take before the test fails


class Outcomes:
    """The ``on_results`` callback: collects activity outcomes by key, each exactly once."""

    def __init__(self) -> None:
        self.by_key: dict[int, ActivityOutcome] = {}
        self._arrived = asyncio.Event()

    def __call__(self, batch: list[ActivityOutcome]) -> None:
        for outcome in batch:
            assert outcome.key not in self.by_key, f"outcome {outcome.key} delivered twice"
            self.by_key[outcome.key] = outcome
        self._arrived.set()

    async def wait_for(self, *keys: int, timeout: float = WAIT) -> list[ActivityOutcome]:
        async with asyncio.timeout(timeout):
            while not all(key in self.by_key for key in keys):
                self._arrived.clear()
                await self._arrived.wait()
        return [self.by_key[key] for key in keys]


def first_episode(name: str, input_value: Any, instance_id: str = "worker-test") -> str:
    """The trigger payload of an instance's first episode (input sent as the SDK client does)."""
    now = datetime.now(UTC)
    input_json = json.dumps(json.dumps(input_value))  # the client's text, stored as a JSON string
    return build_context_json(
        past_event_texts=[],
        new_events=[
            ev.new_orchestrator_started(now),
            ev.new_execution_started(
                now,
                instance_id=instance_id,
                execution_id="e1",
                name=name,
                input_json=input_json,
            ),
        ],
        input_json=input_json,
        instance_id=instance_id,
        parent_instance_id=None,
        is_replaying=False,
    )


async def wait_until_gone(pid: int, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"process {pid} is still alive {timeout} s after stop()")
        await asyncio.sleep(0.02)


def orchestrator(loaded: LoadedApp, name: str) -> OrchestratorFunction:
    function = loaded.registry.orchestrator(name)
    assert function is not None, name
    return function
