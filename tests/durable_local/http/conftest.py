"""Fixtures for the HTTP layer's tests: fixture apps served by the real runtime through the
public test host (see tests/helpers/host.py); the basic app unless a test names another."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest

from durable_local.http import HostKeys
from durable_local.testing import DurableTestHost
from tests.fixture_apps import BASIC_APP
from tests.helpers.host import Host, HostFactory


@pytest.fixture
async def make_host() -> AsyncIterator[HostFactory]:
    """Starts hosts for the test; every one is closed (and its app unloaded) at teardown."""
    started: list[DurableTestHost] = []

    async def make(
        app_dir: str | os.PathLike[str] = BASIC_APP,
        *,
        keys: HostKeys | None = None,
        max_body_size: int | None = None,
    ) -> Host:
        test_host = DurableTestHost(app_dir, keys=keys, max_body_size=max_body_size)
        await test_host.start()
        started.append(test_host)
        return Host.of(test_host)

    try:
        yield make
    finally:
        while started:
            await started.pop().close()


@pytest.fixture
async def host(make_host: HostFactory) -> Host:
    result: Host = await make_host()
    return result
