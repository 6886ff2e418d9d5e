"""Fixtures for the runtime's tests: a fresh runtime on the runtime fixture app per test."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from durable_local.runtime.client import DurableRuntime
from durable_local.runtime.clock import ManualClock
from durable_local.store.sqlite import SqliteStore
from tests.fixture_apps import runtime_app
from tests.helpers.runtime import Harness


@pytest.fixture
async def h() -> AsyncIterator[Harness]:
    runtime_app.reset()
    clock = ManualClock()
    runtime = DurableRuntime(runtime_app.registry(), SqliteStore(":memory:"), clock)
    async with runtime:
        yield Harness(runtime, clock)
    runtime_app.reset()
    runtime.store.close()
