"""The aiohttp app's dispatch: the RPC surface answers this machine only; the public webhook
base is open to other machines (keys permitting)."""

from __future__ import annotations

import json
from typing import Any
from unittest import mock

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from durable_local.functions.loader import LoadedApp
from durable_local.http import create_app
from durable_local.http.app import dispatch
from durable_local.http.config import is_local_request, rpc_base_url
from durable_local.runtime.client import DurableRuntime
from durable_local.runtime.clock import ManualClock
from durable_local.store.sqlite import SqliteStore


def _request(app: Any, path: str, peer: str, sock: str) -> Any:
    transport = mock.Mock()
    extra = {"peername": (peer, 50000), "sockname": (sock, 7071)}
    transport.get_extra_info.side_effect = lambda name, default=None: extra.get(name, default)
    return make_mocked_request("GET", path, app=app, transport=transport)


def test_local_request_detection() -> None:
    assert is_local_request(_request(None, "/", "127.0.0.1", "127.0.0.1"))
    assert is_local_request(_request(None, "/", "::1", "::1"))
    assert is_local_request(_request(None, "/", "10.0.0.5", "10.0.0.5"))
    assert not is_local_request(_request(None, "/", "10.0.0.9", "10.0.0.5"))
    assert rpc_base_url(_request(None, "/", "::1", "::1")) == "http://[::1]:7071/durabletask/"


async def test_rpc_surface_is_404_for_other_machines(basic_app: LoadedApp) -> None:
    runtime = DurableRuntime(basic_app.registry, SqliteStore(":memory:"), ManualClock())
    await runtime.start_new("wait_approval", instance_id="only")
    app = create_app(runtime, basic_app.registry)
    remote = _request(app, "/durabletask/instances/", "10.0.0.9", "10.0.0.5")
    with pytest.raises(web.HTTPNotFound):
        await dispatch(remote)
    # The public webhook base is open to other machines (keys permitting).
    public = _request(app, "/runtime/webhooks/durabletask/instances/", "10.0.0.9", "10.0.0.5")
    assert (await dispatch(public)).status == 200
    local = _request(app, "/durabletask/instances/", "127.0.0.1", "127.0.0.1")
    response = await dispatch(local)
    assert response.status == 200
    assert [item["instanceId"] for item in json.loads(response.text)] == ["only"]
