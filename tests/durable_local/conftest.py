"""Fixtures for the runtime's tests: fixture apps loaded as the CLI loads them, and unloaded."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from durable_local.functions.loader import LoadedApp
from tests.fixture_apps import BASIC_APP
from tests.helpers.apps import AppLoader


@pytest.fixture
def app_loader() -> Iterator[AppLoader]:
    """``load_app`` for a test body; every app it loaded is unloaded at teardown."""
    loader = AppLoader()
    try:
        yield loader
    finally:
        loader.unload_all()


@pytest.fixture
def basic_app(app_loader: AppLoader) -> LoadedApp:
    return app_loader(BASIC_APP)
