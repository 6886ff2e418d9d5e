"""Fixtures for the function app tests: the indexed app (indexed once) and clean app settings."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.helpers.paths import PROJECT_ROOT

if str(PROJECT_ROOT) not in sys.path:
    # function_app.py lives at the project root, like under `func start`.
    sys.path.insert(0, str(PROJECT_ROOT))

from tests.helpers.app_settings import TEST_ACK_BASE_URL, TEST_ACK_KEY
from workflows import settings as app_settings
from workflows.consumers import set_notifier
from workflows.package_store import InMemoryPackageStore, set_package_store

_functions: dict[str, Any] | None = None


def indexed_functions() -> dict[str, Any]:
    """``function_app.app``'s functions by name; get_functions() may only run once per app."""
    global _functions
    if _functions is None:
        import function_app

        _functions = {f.get_function_name(): f for f in function_app.app.get_functions()}
    return _functions


@pytest.fixture(scope="session")
def functions() -> dict[str, Any]:
    return indexed_functions()


@pytest.fixture(scope="session")
def user_function(functions: dict[str, Any]) -> Callable[[str], Any]:
    """The callable the host invokes for a function (an orchestrator's handle, ...)."""
    return lambda name: functions[name].get_user_function()


@pytest.fixture(autouse=True)
def clean_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every test starts from the documented defaults, whatever the shell exports, with an
    ack-link key, links on ``TEST_ACK_BASE_URL`` and notifications by log line."""
    for name in app_settings.DEFAULTS:
        monkeypatch.delenv(name, raising=False)
    for name in (app_settings.ACK_SIGNING_KEY, app_settings.ACK_SIGNING_KEY_PREVIOUS):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("WEBSITE_HOSTNAME", raising=False)
    monkeypatch.setenv(app_settings.ACK_SIGNING_KEY, TEST_ACK_KEY)
    monkeypatch.setenv(app_settings.ACK_BASE_URL, TEST_ACK_BASE_URL)
    monkeypatch.setenv(app_settings.NOTIFIER, "log")
    set_notifier(None)
    yield
    set_notifier(None)


@pytest.fixture
def store() -> Iterator[InMemoryPackageStore]:
    """A fresh package store installed as the one activities use."""
    fresh = InMemoryPackageStore("memory://packages")
    set_package_store(fresh)
    yield fresh
    set_package_store(None)
