"""The benchmark workloads: each starts its instances on a host and returns (count, details)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from bench.constants import DURABLE
from bench.measure import Host, rss_bytes


def chain(n: int) -> Callable[[Host], Awaitable[tuple[int, dict[str, Any]]]]:
    async def body(host: Host) -> tuple[int, dict[str, Any]]:
        iid = await host.runtime.start_new("bench_chain", str(n), "chain")
        await host.wait_finished(1, iid)
        assert await host.output(iid) == sum(range(n))
        return n, {}

    return body


def fan(n: int) -> Callable[[Host], Awaitable[tuple[int, dict[str, Any]]]]:
    async def body(host: Host) -> tuple[int, dict[str, Any]]:
        iid = await host.runtime.start_new("bench_fan", str(n), "fan")
        await host.wait_finished(1, iid)
        assert await host.output(iid) == sum(range(n))
        return n, {}

    return body


def events(n: int, concurrency: int = 8) -> Callable[[Host], Awaitable[tuple[int, dict[str, Any]]]]:
    async def body(host: Host) -> tuple[int, dict[str, Any]]:
        iid = "events"
        client = await host.client("events", iid, str(n), str(concurrency))
        url = f"{host.base}{DURABLE}/orchestrators/bench_events/{iid}"
        async with host.session.post(url, json=str(n)) as response:
            assert response.status == 202, await response.text()
        client.go()
        raised = await client.result()
        await host.wait_finished(1, iid)
        assert await host.output(iid) == n
        return n, raised

    return body


def devices(n: int) -> Callable[[Host], Awaitable[tuple[int, dict[str, Any]]]]:
    """The app's provisioning run over HTTP; each child is acked as soon as it waits."""

    async def body(host: Host) -> tuple[int, dict[str, Any]]:
        device_ids = [f"dev-{i:05d}" for i in range(n)]
        payload = {"deviceIds": device_ids, "ackTimeoutSeconds": 900}
        parent = f"devices-{n}"
        client = await host.client("acks", f"{parent}:device:", str(n))
        url = f"{host.base}/api/provision-devices?instanceId={parent}"
        async with host.session.post(url, json=payload) as response:
            assert response.status == 202, await response.text()
        client.go()
        acks = await client.result()
        await host.wait_finished(n + 1, parent)  # the parent and its children
        output = await host.output(parent)
        assert len(output["succeeded"]) == n and not output["failed"], output["failed"][:3]
        assert all(d["digestVerified"] for d in output["devices"].values())
        return n, acks

    return body


def concurrent(n: int) -> Callable[[Host], Awaitable[tuple[int, dict[str, Any]]]]:
    async def body(host: Host) -> tuple[int, dict[str, Any]]:
        for i in range(n):
            await host.runtime.start_new("bench_small", None, f"small-{i:06d}")
        await host.wait_finished(n, "small-")
        return n, {}

    return body


def soak(n: int, window: int = 500) -> Callable[[Host], Awaitable[tuple[int, dict[str, Any]]]]:
    """``n`` small orchestrations, at most ``window`` in flight; RSS sampled along the way."""

    async def body(host: Host) -> tuple[int, dict[str, Any]]:
        samples: list[tuple[float, int, float]] = []  # (seconds, finished, RSS MB)
        begin = time.perf_counter()
        submitted = finished = 0
        next_sample = 0.0
        while finished < n:
            finished, bad = host.count_finished("soak-")
            if bad:
                raise RuntimeError(f"{bad} soak instance(s) did not complete")
            while submitted < n and submitted - finished < window:
                await host.runtime.start_new("bench_small", None, f"soak-{submitted:06d}")
                submitted += 1
            now = time.perf_counter() - begin
            if now >= next_sample:
                samples.append((now, finished, rss_bytes() / 2**20))
                next_sample = now + 0.25
            await asyncio.sleep(0.01)
        samples.append((time.perf_counter() - begin, finished, rss_bytes() / 2**20))
        return n, {"samples": samples, **flatness(samples, n)}

    return body


def flatness(samples: list[tuple[float, int, float]], n: int) -> dict[str, float]:
    """RSS after the first 20 % of the soak (warmed up) against the last 20 %."""
    early = [rss for _, done, rss in samples if 0.1 * n <= done <= 0.3 * n]
    late = [rss for _, done, rss in samples if done >= 0.8 * n]
    if not early or not late:
        return {}
    return {
        "rss_early_mb": max(early),
        "rss_late_mb": max(late),
        "rss_growth_mb": max(late) - max(early),
    }


# -- reporting ------------------------------------------------------------------------------------
