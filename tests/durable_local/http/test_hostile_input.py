"""Hostile input gets a 4xx JSON error, never a 500: JSON nested thousands deep, a huge ``top``, a
continuation token with a huge time, ids the URL layer cannot round-trip (``..``, bytes that are
not UTF-8); polling intervals are clamped; a client trickling its headers is cut off."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from typing import Any

import pytest

from durable_local.functions.loader import LoadedApp
from durable_local.host import FunctionsHost, HostOptions
from durable_local.http.durable_api import MIN_POLLING_INTERVAL
from durable_local.model import instance_id_problem
from tests.helpers.host import Host

API = "/runtime/webhooks/durabletask"


async def bad_request(response: Any, *words: str) -> None:
    assert response.status == 400, await response.text()
    body = await response.json()
    for word in words:
        assert word in body["ExceptionMessage"]


async def test_json_nested_thousands_deep_is_a_400(host: Host) -> None:
    await host.runtime.start_new("wait_approval", "1", "waiting")
    body = "[" * 5000 + "]" * 5000
    for url in (f"{API}/orchestrators/wait_approval", f"{API}/instances/waiting/raiseEvent/e"):
        async with host.client.post(
            url, data=body, headers={"Content-Type": "application/json"}
        ) as response:
            await bad_request(response, "nested too deeply")


@pytest.mark.parametrize("top", ["99999999999999999999", "0", "-1", "2147483648"])
async def test_a_top_out_of_range_is_a_400(host: Host, top: str) -> None:
    async with host.client.get(f"{API}/instances?top={top}") as response:
        await bad_request(response, "'top'")


@pytest.mark.parametrize("created", [10**30, -(10**30), 2**63])
async def test_a_continuation_token_with_a_time_out_of_range_is_a_400(
    host: Host, created: int
) -> None:
    token = base64.urlsafe_b64encode(json.dumps([created, "x"]).encode()).decode().rstrip("=")
    async with host.client.get(
        f"{API}/instances", headers={"x-ms-continuation-token": token}
    ) as response:
        await bad_request(response, "not a valid continuation token")


@pytest.mark.parametrize(
    ("raw_id", "words"),
    [
        ("..", ["dots only"]),
        ("%2E%2E", ["dots only"]),
        (".", ["dots only"]),
        ("...", ["dots only"]),
        ("%ED%A0%80", ["not valid UTF-8"]),  # a lone surrogate, UTF-8 encoded
        ("a%FFb", ["not valid UTF-8"]),
    ],
)
async def test_ids_the_url_cannot_round_trip_are_refused(
    host: Host, raw_id: str, words: list[str]
) -> None:
    # Sent as is (an HTTP client would resolve the dots before sending).
    port = host.client.server.port
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        f"POST {API}/orchestrators/wait_approval/{raw_id} HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        "Content-Length: 1\r\nConnection: close\r\n\r\n1".encode()
    )
    head, _, body = (await reader.read()).partition(b"\r\n\r\n")
    writer.close()
    assert head.startswith(b"HTTP/1.1 400"), head
    for word in words:
        assert word in json.loads(body)["ExceptionMessage"]
    async with host.client.get(f"{API}/instances") as response:
        assert await response.json() == []  # nothing was created


def test_a_lone_surrogate_id_is_refused_wherever_it_comes_from() -> None:
    problem = instance_id_problem("a\ud800b")  # e.g. a sub-orchestration's id, from JSON
    assert problem is not None and "lone surrogates" in problem


async def test_a_tiny_polling_interval_is_clamped(
    host: Host, monkeypatch: pytest.MonkeyPatch
) -> None:
    polls = 0
    get_status = host.runtime.get_status

    async def counted(*args: Any, **kwargs: Any) -> Any:
        nonlocal polls
        polls += 1
        return await get_status(*args, **kwargs)

    monkeypatch.setattr(host.runtime, "get_status", counted)
    timeout = 0.3
    async with host.client.post(
        f"{API}/orchestrators/wait_approval?timeout={timeout}&pollingInterval=1e-9", json=1
    ) as response:
        assert response.status == 202  # still running when the wait ran out

    assert polls <= timeout / MIN_POLLING_INTERVAL + 2  # not thousands


async def test_a_client_trickling_its_headers_is_cut_off(basic_app: LoadedApp) -> None:
    host = FunctionsHost(basic_app, HostOptions(in_process=True, header_timeout=0.5))
    try:
        base = await host.serve("127.0.0.1", 0)
        port = int(base.rsplit(":", 1)[1])
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /admin/host/status HTTP/1.1\r\nHost: localhost\r\n")
        async with asyncio.timeout(30):
            while not reader.at_eof():  # one header line at a time, never the blank line
                writer.write(b"X-Slow: 1\r\n")
                with contextlib.suppress(ConnectionError):
                    await writer.drain()
                await asyncio.sleep(0.05)
                with contextlib.suppress(TimeoutError, ConnectionError):
                    if await asyncio.wait_for(reader.read(1024), 0.01) == b"":
                        break
        writer.close()

        # A client that sends its request at once is served.
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /admin/host/status HTTP/1.1\r\nHost: localhost\r\n\r\n")
        assert (await reader.readline()).startswith(b"HTTP/1.1 200")
        writer.close()
    finally:
        await host.close()
