"""Browser attacks refused (durable_local.http.guard): a web page the developer opens cannot
drive the keyless Durable API, neither cross-origin (a ``text/plain`` POST needs no preflight)
nor through DNS rebinding (a foreign ``Host``); same-origin and non-browser clients still can."""

from __future__ import annotations

from typing import Any

import pytest

from durable_local.host import FunctionsHost, HostOptions
from durable_local.http import HostConfig, HostKeys
from durable_local.http.guard import binding_warning
from tests.helpers.host import Host, HostFactory

RPC = "/durabletask"
PUBLIC = "/runtime/webhooks/durabletask"


async def refused(response: Any, *words: str) -> None:
    assert response.status == 403
    body = await response.json()
    for word in words:
        assert word in body["ExceptionMessage"]


@pytest.mark.parametrize("base", [RPC, PUBLIC])
async def test_a_cross_origin_start_is_refused_and_starts_nothing(host: Host, base: str) -> None:
    async with host.client.post(
        f"{base}/orchestrators/wait_approval",
        data='{"n": 1}',
        headers={"Content-Type": "text/plain", "Origin": "http://evil.example"},
    ) as response:
        await refused(response, "cross-origin", "http://evil.example")
    async with host.client.get(f"{RPC}/instances") as response:
        assert response.status == 200
        assert await response.json() == []


@pytest.mark.parametrize("base", [RPC, PUBLIC])
async def test_a_rebound_host_name_cannot_read_instances(host: Host, base: str) -> None:
    await host.runtime.start_new("wait_approval", '"secret input"', "private")
    port = host.client.server.port
    for name in (f"evil.example:{port}", "evil.example", "127.0.0.1.nip.io"):
        async with host.client.get(f"{base}/instances", headers={"Host": name}) as response:
            await refused(response, "Host header", name.split(":")[0])


@pytest.mark.parametrize(
    "name", ["localhost", "127.0.0.1", "LOCALHOST", "app.localhost", "[::1]", "127.0.0.2"]
)
async def test_loopback_names_and_the_own_origin_are_served(host: Host, name: str) -> None:
    port = host.client.server.port
    headers = {"Host": f"{name}:{port}", "Origin": f"http://{name}:{port}"}
    async with host.client.post(
        f"{RPC}/orchestrators/wait_approval", json=1, headers=headers
    ) as response:
        assert response.status == 202


async def test_with_keys_the_public_api_is_left_to_the_keys(make_host: HostFactory) -> None:
    host: Host = await make_host(keys=HostKeys(system_key="sys"))
    headers = {"Host": "evil.example", "Origin": "http://evil.example"}
    async with host.client.get(f"{PUBLIC}/instances", headers=headers) as response:
        assert response.status == 401  # no key: what a page cannot present
    async with host.client.get(f"{PUBLIC}/instances?code=sys", headers=headers) as response:
        assert response.status == 200
    async with host.client.get(f"{RPC}/instances", headers=headers) as response:
        await refused(response, "Host header")  # the keyless base never is


async def test_the_apps_own_functions_keep_their_cross_origin_callers(host: Host) -> None:
    async with host.client.get(
        "/api/text", headers={"Origin": "http://front-end.example"}
    ) as response:
        assert response.status == 200


async def test_an_allowed_host_is_served(aiohttp_client: Any, host: Host) -> None:
    config = HostConfig(allowed_hosts=frozenset({"functions"}), app_dir=str(host.loaded.app_dir))
    other = FunctionsHost(host.loaded, HostOptions(config=config, in_process=True))
    client = await aiohttp_client(other.app)
    async with client.get(f"{RPC}/instances", headers={"Host": "functions:7071"}) as response:
        assert response.status == 200
    async with client.get(f"{RPC}/instances", headers={"Host": "other:7071"}) as response:
        await refused(response, "--allowed-host")


def test_binding_beyond_loopback_without_keys_warns() -> None:
    for exposed in ("0.0.0.0", "::", "", "192.168.1.20"):
        warning = binding_warning(exposed, keys_enforced=False)
        assert warning is not None and "without keys" in warning
    assert binding_warning("0.0.0.0", keys_enforced=True) is None
    for loopback in ("127.0.0.1", "::1", "localhost"):
        assert binding_warning(loopback, keys_enforced=False) is None
