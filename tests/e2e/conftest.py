"""Fixtures for the end-to-end tests: the real function_app.py on durable-local, over real HTTP.

Each test module shares one runtime process (``durable-local start`` on a free port with its
own SQLite store in a temporary folder); app settings reach the app through environment
variables, as app settings do in Azure.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:  # `pytest` without `python -m` does not add the root
    sys.path.insert(0, str(REPO_ROOT))

from demo.azurite import Azurite, azurite_installed  # noqa: E402
from demo.durable_client import DurableClient  # noqa: E402
from demo.host_process import LocalHost  # noqa: E402

#: Settings for the shared runtime of a test module: short retries, a default ack window
#: long enough that nothing times out unless a test asks for it.
E2E_SETTINGS = {
    "ACK_TIMEOUT_SECONDS": "60",
    "ACTIVITY_RETRY_MAX_ATTEMPTS": "2",
    "ACTIVITY_RETRY_FIRST_INTERVAL_MS": "200",
    "PENDING_DEVICE_IDS": "cfg-a,cfg-b,cfg-c",
    "HTTP_AUTH_LEVEL": "FUNCTION",
    # Worker-memory packages (memory:// URLs): no storage emulator needed.
    "PACKAGE_STORE": "memory",
}


def start_host(tmp: Path, **settings: str) -> LocalHost:
    host = LocalHost(tmp / "durable.db", tmp / "durable-local.log", settings=E2E_SETTINGS)
    host.settings.update(settings)
    host.start()
    return host


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite | None]:
    """A private Azurite (free port, temporary data) for the session; None without npm install."""
    if not azurite_installed():
        yield None
        return
    emulator = Azurite(tmp_path_factory.mktemp("azurite"))
    emulator.start()
    try:
        yield emulator
    finally:
        emulator.stop()


def blob_settings(azurite: Azurite | None) -> dict[str, str]:
    """The app's default package store (blob, SAS URLs) on ``azurite``; memory without it."""
    if azurite is None:
        return {}
    return {"PACKAGE_STORE": "blob", "AzureWebJobsStorage": azurite.connection_string}


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory, azurite: Azurite | None) -> Iterator[LocalHost]:
    """One durable-local process per test module; packages on Azurite when it is installed."""
    running = start_host(tmp_path_factory.mktemp("durable-local"), **blob_settings(azurite))
    try:
        yield running
    finally:
        running.stop()
        if running.process is not None and running.process.returncode not in (0, None):
            print(running.log_text()[-5000:])


@pytest.fixture
async def client(host: LocalHost) -> AsyncIterator[DurableClient]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
        yield DurableClient(session, host.base_url)
