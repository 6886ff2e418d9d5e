"""Fixtures for the end-to-end tests: the real function_app.py on a real host, over real HTTP.

By default each test module shares one durable-local process (``durable-local start`` on a free
port with its own SQLite store in a temporary folder) and the session shares one private
Azurite (blob + queue); app settings reach the app through environment variables, as app
settings do in Azure. With ``DEVICE_SYNC_HOST_URL`` set (devtools/target.py) the same tests run
against that already-running host instead (e.g. ``func start`` + Azurite, configured with
``REMOTE_SETTINGS``); tests that need durable-local itself are skipped there, saying why.
"""

from __future__ import annotations

import secrets
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:  # `pytest` without `python -m` does not add the root
    sys.path.insert(0, str(REPO_ROOT))

from devtools.azurite import Azurite, azurite_installed  # noqa: E402
from devtools.durable_client import DurableClient  # noqa: E402
from devtools.host_process import LocalHost  # noqa: E402
from devtools.target import HOST_URL, RemoteTarget, remote_target  # noqa: E402

#: The host the suite runs against when it is not durable-local (None: durable-local).
REMOTE: RemoteTarget | None = remote_target()

#: The ack-link signing key of this test session (as ./dev start generates one locally).
SESSION_ACK_KEY = secrets.token_urlsafe(48)

#: Settings for the shared runtime of a test module: short retries, a default ack window
#: long enough that nothing times out unless a test asks for it. A host named by
#: DEVICE_SYNC_HOST_URL must run with these (plus its own ACK_SIGNING_KEY and storage).
REMOTE_SETTINGS = {
    "ACK_TIMEOUT_SECONDS": "60",
    "ACTIVITY_RETRY_MAX_ATTEMPTS": "2",
    "ACTIVITY_RETRY_FIRST_INTERVAL_MS": "200",
    "PENDING_DEVICE_IDS": "cfg-a,cfg-b,cfg-c",
    "HTTP_AUTH_LEVEL": "FUNCTION",
}
E2E_SETTINGS = {
    **REMOTE_SETTINGS,
    "ACK_SIGNING_KEY": SESSION_ACK_KEY,
    # Without Azurite: worker-memory packages (memory:// URLs) and log notifications.
    "PACKAGE_STORE": "memory",
    "NOTIFIER": "log",
}


def needs_durable_local(why: str) -> pytest.MarkDecorator:
    """Skip a test when the suite runs against another host (DEVICE_SYNC_HOST_URL)."""
    return pytest.mark.skipif(
        REMOTE is not None,
        reason=f"needs durable-local ({why}); {HOST_URL} points the suite at another host",
    )


def start_host(tmp: Path, **settings: str) -> LocalHost:
    host = LocalHost(tmp / "durable.db", tmp / "durable-local.log", settings=E2E_SETTINGS)
    host.settings.update(settings)
    host.start()
    return host


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite | None]:
    """A private Azurite (free ports, temporary data) for the session; None without npm install
    or when the suite runs against another host (which has its own storage)."""
    if REMOTE is not None or not azurite_installed():
        yield None
        return
    emulator = Azurite(tmp_path_factory.mktemp("azurite"))
    emulator.start()
    try:
        yield emulator
    finally:
        emulator.stop()


def blob_settings(azurite: Azurite | None) -> dict[str, str]:
    """The app's defaults (blob packages with SAS URLs, queue notifications) on ``azurite``;
    memory packages and log notifications without it."""
    if azurite is None:
        return {}
    return {
        "PACKAGE_STORE": "blob",
        "NOTIFIER": "queue",
        "AzureWebJobsStorage": azurite.connection_string,
    }


@pytest.fixture(scope="session")
def storage_connection(azurite: Azurite | None) -> str | None:
    """The connection string of the storage the host uses (consumers read their queues there);
    None when the host runs without Azurite (memory packages, log notifications)."""
    if REMOTE is not None:
        return REMOTE.storage_connection
    return None if azurite is None else azurite.connection_string


@pytest.fixture(scope="module")
def host(
    tmp_path_factory: pytest.TempPathFactory, azurite: Azurite | None
) -> Iterator[LocalHost | RemoteTarget]:
    """One durable-local process per test module (the app's storage defaults on Azurite when it
    is installed), or the host DEVICE_SYNC_HOST_URL names."""
    if REMOTE is not None:
        yield REMOTE
        return
    running = start_host(tmp_path_factory.mktemp("durable-local"), **blob_settings(azurite))
    try:
        yield running
    finally:
        running.stop()
        if running.process is not None and running.process.returncode not in (0, None):
            print(running.log_text()[-5000:])


def client_for(session: aiohttp.ClientSession, base_url: str) -> DurableClient:
    """A client for ``base_url`` carrying the remote host's keys, if any."""
    if REMOTE is None:
        return DurableClient(session, base_url)
    return DurableClient(
        session, base_url, function_key=REMOTE.function_key, system_key=REMOTE.system_key
    )


@pytest.fixture
async def client(host: LocalHost | RemoteTarget) -> AsyncIterator[DurableClient]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
        yield client_for(session, host.base_url)
