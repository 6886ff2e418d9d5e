"""Fixtures for the HTTP layer's tests: fixture apps served by the real runtime (see
tests/helpers/host.py); the basic app unless a test passes another loaded app."""

from __future__ import annotations

from typing import Any

import pytest

from durable_local.functions.loader import LoadedApp
from durable_local.http import HostKeys
from tests.fixture_apps import BASIC_APP
from tests.helpers.apps import AppLoader
from tests.helpers.host import Host, HostFactory, serve


@pytest.fixture
async def make_host(aiohttp_client: Any, app_loader: AppLoader) -> HostFactory:
    async def make(
        loaded: LoadedApp | None = None,
        *,
        keys: HostKeys | None = None,
        max_body_size: int | None = None,
    ) -> Host:
        app_info = loaded or app_loader(BASIC_APP)
        return await serve(aiohttp_client, app_info, keys=keys, max_body_size=max_body_size)

    return make


@pytest.fixture
async def host(make_host: HostFactory) -> Host:
    result: Host = await make_host()
    return result
