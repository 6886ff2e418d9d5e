"""Fixtures for the tests against a real blob service: one Azurite per test session.

Azurite is the version pinned in package.json, started from ``node_modules/.bin/azurite``
on a free loopback port with a temporary data folder, and stopped when the session ends. When
that executable is missing (``npm install`` has not run) the tests that need it are skipped
with a message saying so; CI runs ``npm install`` first.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from azure.storage.blob import BlobServiceClient

from devtools.azurite import AZURITE_BIN, Azurite, azurite_installed
from workflows import settings as app_settings
from workflows.blob_store import BlobPackageStore
from workflows.consumers import set_notifier
from workflows.package_store import create_package_store, set_package_store

#: The app setting the tests put the emulator's connection string in (the app's default).
CONNECTION_SETTING = "AzureWebJobsStorage"
TEST_ACK_KEY = "storage-tests-ack-signing-key-0123456789"
TEST_ACK_BASE_URL = "http://127.0.0.1:7071/api"


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    if not azurite_installed():
        pytest.skip(f"Azurite is not installed ({AZURITE_BIN} is missing): run `npm install`")
    emulator = Azurite(tmp_path_factory.mktemp("azurite"))
    emulator.start()
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture(autouse=True)
def clean_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Documented defaults (queue notifier included), whatever the shell exports, with an
    ack-link key; no process-wide store or notifier left behind."""
    for name in [*app_settings.DEFAULTS, CONNECTION_SETTING, "WEBSITE_HOSTNAME"]:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(app_settings.ACK_SIGNING_KEY, TEST_ACK_KEY)
    monkeypatch.delenv(app_settings.ACK_SIGNING_KEY_PREVIOUS, raising=False)
    monkeypatch.setenv(app_settings.ACK_BASE_URL, TEST_ACK_BASE_URL)
    set_package_store(None)
    set_notifier(None)
    yield
    set_package_store(None)
    set_notifier(None)


@pytest.fixture
def storage_env(azurite: Azurite, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """App settings pointing the (default) blob store at the session's Azurite."""
    env = {CONNECTION_SETTING: azurite.connection_string}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@pytest.fixture
def blob_store(storage_env: dict[str, str]) -> BlobPackageStore:
    """The store the app settings select: blob storage, signed with the account key."""
    store = create_package_store(storage_env)
    assert isinstance(store, BlobPackageStore)
    return store


@pytest.fixture
def service(azurite: Azurite) -> BlobServiceClient:
    """A plain SDK client on the emulator, to look behind the store's back."""
    return BlobServiceClient.from_connection_string(azurite.connection_string)
