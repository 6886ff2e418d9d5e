"""Fixtures for the tests against a real blob service: one Azurite per test session.

Azurite is the version pinned in package.json, started from ``node_modules/.bin/azurite-blob``
on a free loopback port with a temporary data folder, and stopped when the session ends. When
that executable is missing (``npm install`` has not run) the tests that need it are skipped
with a message saying so; CI runs ``npm install`` first.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from azure.storage.blob import BlobServiceClient

from demo.azurite import AZURITE_BLOB, AzuriteBlob, azurite_installed
from workflows import settings as app_settings
from workflows.blob_store import BlobPackageStore
from workflows.package_store import create_package_store, set_package_store

#: The app setting the tests put the emulator's connection string in (the app's default).
CONNECTION_SETTING = "AzureWebJobsStorage"


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AzuriteBlob]:
    if not azurite_installed():
        pytest.skip(f"Azurite is not installed ({AZURITE_BLOB} is missing): run `npm install`")
    emulator = AzuriteBlob(tmp_path_factory.mktemp("azurite"))
    emulator.start()
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture(autouse=True)
def clean_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Documented defaults, whatever the shell exports; no process-wide store left behind."""
    for name in [*app_settings.DEFAULTS, CONNECTION_SETTING]:
        monkeypatch.delenv(name, raising=False)
    set_package_store(None)
    yield
    set_package_store(None)


@pytest.fixture
def storage_env(azurite: AzuriteBlob, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
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
def service(azurite: AzuriteBlob) -> BlobServiceClient:
    """A plain SDK client on the emulator, to look behind the store's back."""
    return BlobServiceClient.from_connection_string(azurite.connection_string)
