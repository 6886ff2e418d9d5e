"""HTTP functions run in the worker process, as in Azure: the host's event loop never runs user
code (a blocking ``async def`` function does not freeze the Durable API), and module state is
shared between HTTP functions and activities. Real CLI composition (``FunctionsHost``) with its
worker process, over real HTTP."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator

import aiohttp
import pytest

from durable_local.functions.loader import LoadedApp
from durable_local.host import FunctionsHost, HostOptions
from durable_local.model import RuntimeStatus
from tests.fixture_apps import POISON_APP
from tests.helpers.apps import AppLoader

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


@pytest.fixture
async def served(app_loader: AppLoader) -> AsyncIterator[tuple[FunctionsHost, str]]:
    loaded: LoadedApp = app_loader(POISON_APP)
    host = FunctionsHost(loaded, HostOptions(cpu_split=False))
    try:
        yield host, await host.serve("127.0.0.1", 0)
    finally:
        await host.close()


async def test_http_functions_run_in_the_worker_and_share_its_module_state(
    served: tuple[FunctionsHost, str],
) -> None:
    host, base = served
    assert host.worker is not None
    instance_id = await host.runtime.start_new("bumper")
    status = await host.runtime.wait_for_status(instance_id, timeout=60)
    assert status["runtimeStatus"] == RuntimeStatus.COMPLETED.value

    async with aiohttp.ClientSession() as session, session.get(f"{base}/api/state") as response:
        assert response.status == 200
        pid, bumps = (await response.text()).split()
    assert int(pid) == host.worker.pid != os.getpid()
    assert int(bumps) == 1  # what the activity did, seen by the HTTP function


async def test_a_blocking_http_function_does_not_freeze_the_host(
    served: tuple[FunctionsHost, str],
) -> None:
    _, base = served
    async with aiohttp.ClientSession() as session:

        async def nap() -> str:
            async with session.get(f"{base}/api/nap?seconds=3") as response:
                assert response.status == 200
                return await response.text()

        napping = asyncio.ensure_future(nap())
        await asyncio.sleep(0.3)  # the nap has begun in the worker
        async with session.get(f"{base}/admin/host/status") as response:
            assert response.status == 200
            assert json.loads(await response.text())["state"] == "Running"
        async with session.get(f"{base}/runtime/webhooks/durabletask/instances") as response:
            assert response.status == 200
        assert not napping.done()  # answered while the function still blocks its own thread
        assert await napping == "rested"


async def test_an_http_function_over_function_timeout_is_a_500_and_the_worker_recycled(
    app_loader: AppLoader,
) -> None:
    host = FunctionsHost(app_loader(POISON_APP), HostOptions(cpu_split=False))
    assert host.worker is not None
    host.worker.function_timeout = 1.0  # as host.json "functionTimeout": "00:00:01"
    try:
        base = await host.serve("127.0.0.1", 0)
        first_pid = host.worker.pid
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{base}/api/nap?seconds=3600") as response:
                assert response.status == 500
            async with session.get(f"{base}/api/state") as response:  # served by a successor
                assert response.status == 200
                pid, _ = (await response.text()).split()
        assert int(pid) == host.worker.pid != first_pid
        assert host.worker.restarts == 1
    finally:
        await host.close()
