"""Fixtures for the language worker tests: the worker app loaded as the host loads it (the
dispatcher needs the host's registry) and unloaded after each test, and a started ProcessWorker."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from durable_local.functions.loader import LoadedApp
from durable_local.worker.process import ProcessWorker
from tests.fixture_apps import WORKER_APP
from tests.helpers.apps import AppLoader
from tests.helpers.worker import Outcomes


@pytest.fixture
def loaded(app_loader: AppLoader) -> LoadedApp:
    """The worker app as the host loads it; the load is undone after the test."""
    return app_loader(WORKER_APP)


@pytest.fixture
async def process_worker(loaded: LoadedApp) -> AsyncIterator[tuple[ProcessWorker, Outcomes]]:
    worker = ProcessWorker(str(WORKER_APP), max_activities=4, restart_delay=0.1)
    outcomes = Outcomes()
    await worker.start(outcomes)
    try:
        yield worker, outcomes
    finally:
        await worker.stop()
