"""Load: 200 concurrent starts and 2,000 concurrent raiseEvent calls against one runtime.

Loopback only, bounded concurrency (aiohttp connector limits), bounded in time. Every request
must get its documented status (starts 202; raiseEvent 202 for a running child, 404 for an
unknown instance, 410 for a finished one), nothing may answer 5xx, and no accepted event may be
lost: every ack answered 202 carries a unique nonce that must show up in exactly one child's
history (``showHistory=true``), its target's; nonces answered 404/410 must show up nowhere.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from devtools.durable_client import ACK_EVENT, DurableClient, Response, history_events

from .conftest import needs_durable_local, start_host

pytestmark = [pytest.mark.slow, needs_durable_local("starts a host with its own settings")]

STARTS = 200
DEVICES_PER_RUN = 3
TERMINATED_RUNS = 20  # their ids are the 410 targets
RAISES = 2_000
CONCURRENCY = 64
TIME_LIMIT = 120.0  # seconds for the whole test; each phase asserts its own bound


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def describe(label: str, durations: list[float], statuses: Counter[int], wall: float) -> str:
    ms = [d * 1000 for d in durations]
    return (
        f"{label}: {len(durations)} requests in {wall:.2f} s "
        f"({len(durations) / wall:.0f}/s), statuses {dict(sorted(statuses.items()))}, "
        f"latency ms p50 {statistics.median(ms):.1f} p95 {percentile(ms, 0.95):.1f} "
        f"max {max(ms):.1f}"
    )


async def timed_all(
    calls: list[Callable[[], Awaitable[Response]]], limit: int
) -> tuple[list[Response | BaseException], list[float], float]:
    """Run every call with at most ``limit`` in flight; results keep the calls' order."""
    gate = asyncio.Semaphore(limit)
    durations: list[float] = [0.0] * len(calls)

    async def one(index: int, call: Callable[[], Awaitable[Response]]) -> Response:
        async with gate:
            began = time.perf_counter()
            try:
                return await call()
            finally:
                durations[index] = time.perf_counter() - began

    began = time.perf_counter()
    results = await asyncio.gather(
        *(one(i, c) for i, c in enumerate(calls)), return_exceptions=True
    )
    return list(results), durations, time.perf_counter() - began


async def test_concurrent_starts_and_raise_events(tmp_path: Path) -> None:
    test_began = time.monotonic()
    host = start_host(tmp_path, ACK_TIMEOUT_SECONDS="300")
    connector = aiohttp.TCPConnector(limit=CONCURRENCY, force_close=False)
    timeout = aiohttp.ClientTimeout(total=60)
    try:
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            client = DurableClient(session, host.base_url)
            await run_load(client)
    finally:
        host.stop()
        log = host.log_text()
    assert "Unhandled error" not in log
    elapsed = time.monotonic() - test_began
    print(f"load test total {elapsed:.1f} s")
    assert elapsed < TIME_LIMIT


async def run_load(client: DurableClient) -> None:
    # ---- 200 concurrent starts -----------------------------------------------------------
    parents = [f"load-{n:03d}" for n in range(STARTS)]
    devices = [f"d{n}" for n in range(DEVICES_PER_RUN)]

    def start(parent: str) -> Callable[[], Awaitable[Response]]:
        return lambda: client.start_devices({"deviceIds": devices}, instance_id=parent)

    results, durations, wall = await timed_all([start(p) for p in parents], CONCURRENCY)
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, errors[:3]
    start_statuses = Counter(r.status for r in results if isinstance(r, Response))
    print("\n" + describe("starts", durations, start_statuses, wall))
    assert start_statuses == {202: STARTS}

    children = [f"{p}:device:{d}" for p in parents for d in devices]
    await wait_until(
        lambda: count_prefix(client, "load-", ":device:"), len(children), 60, "children created"
    )

    # ---- the 410 targets: finished (terminated) parents -----------------------------------
    finished = parents[-TERMINATED_RUNS:]
    for parent in finished:
        assert (await client.post(parent, "terminate", "load test")).status == 202
    for parent in finished:
        await client.wait_for(parent, {"Terminated"}, timeout=30)

    # ---- 2,000 concurrent raiseEvent calls -----------------------------------------------
    plan: list[tuple[str, str, int]] = []  # (target, nonce, expected status)
    for n, child in enumerate(children):
        plan.append((child, f"N{n:05d}N", 202))
    gone = RAISES - len(children)
    for n in range(gone // 2):
        plan.append((f"load-missing-{n}", f"M{n:05d}M", 404))
    for n in range(gone - gone // 2):
        plan.append((finished[n % len(finished)], f"G{n:05d}G", 410))
    assert len(plan) == RAISES
    random.Random(5).shuffle(plan)

    def ack(target: str, nonce: str) -> Callable[[], Awaitable[Response]]:
        return lambda: client.raise_event(target, {"ok": True, "nonce": nonce})

    results, durations, wall = await timed_all([ack(t, n) for t, n, _ in plan], CONCURRENCY)
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, errors[:3]
    responses = [r for r in results if isinstance(r, Response)]
    raise_statuses = Counter(r.status for r in responses)
    print(describe("raiseEvent", durations, raise_statuses, wall))
    assert not [r for r in responses if r.status >= 500]
    wrong = [
        (target, expected, r)
        for (target, _, expected), r in zip(plan, responses, strict=True)
        if r.status != expected
    ]
    assert not wrong, wrong[:5]
    assert raise_statuses == {202: len(children), 404: gone // 2, 410: gone - gone // 2}
    for response in responses:
        if response.status == 202:
            assert response.text == ""
        else:
            assert response.body["ExceptionMessage"]

    # ---- none lost: each accepted ack in exactly one child's history ----------------------
    began = time.perf_counter()
    running = [p for p in parents if p not in finished]
    await wait_until(lambda: count_completed(client, running), len(running), 90, "parents done")
    for parent in running:
        status = await client.status(parent)
        assert status.body["output"]["succeeded"] == devices, status
    histories = await fetch_histories(client, children)
    seen: dict[str, list[str]] = {}
    for child, status in histories.items():
        assert status["runtimeStatus"] == "Completed", (child, status["runtimeStatus"])
        assert status["output"]["status"] == "completed"
        raised = history_events(status, "EventRaised", ACK_EVENT)
        for row in raised:
            text = str(row.get("Input"))
            for marker in ("N", "M", "G"):
                start_at = text.find(f'"{marker}')
                if start_at >= 0:
                    nonce = text[start_at + 1 : start_at + 8]
                    seen.setdefault(nonce, []).append(child)
    # The finished parents (the 410 targets) never received any of those events.
    for parent, status in (await fetch_histories(client, finished)).items():
        assert status["runtimeStatus"] == "Terminated"
        assert not history_events(status, "EventRaised"), parent
    accepted = {nonce: target for target, nonce, expected in plan if expected == 202}
    lost = [nonce for nonce in accepted if nonce not in seen]
    duplicated = {nonce: where for nonce, where in seen.items() if len(where) != 1}
    misplaced = [n for n, target in accepted.items() if seen.get(n, [target]) != [target]]
    stray = [nonce for nonce in seen if nonce not in accepted]
    print(
        f"verification: {len(accepted)} accepted acks, {len(seen)} found in "
        f"{len(histories)} child histories, lost {len(lost)}, duplicated {len(duplicated)}, "
        f"misplaced {len(misplaced)}, rejected-but-delivered {len(stray)} "
        f"({time.perf_counter() - began:.2f} s)"
    )
    assert not lost, lost[:5]
    assert not duplicated
    assert not misplaced
    assert not stray


async def count_prefix(client: DurableClient, prefix: str, marker: str) -> int:
    return sum(1 for item in await client.list_prefix(prefix) if marker in item["instanceId"])


async def count_completed(client: DurableClient, ids: list[str]) -> int:
    items = {item["instanceId"]: item for item in await client.list_prefix("load-")}
    return sum(1 for i in ids if items.get(i, {}).get("runtimeStatus") == "Completed")


async def wait_until(
    probe: Callable[[], Awaitable[int]], wanted: int, timeout: float, what: str
) -> None:
    began = time.monotonic()
    value = -1
    while time.monotonic() - began < timeout:
        value = await probe()
        if value >= wanted:
            print(f"{what}: {value} after {time.monotonic() - began:.2f} s")
            return
        await asyncio.sleep(0.25)
    raise AssertionError(f"{what}: {value} of {wanted} after {timeout} s")


async def fetch_histories(client: DurableClient, ids: list[str]) -> dict[str, Any]:
    gate = asyncio.Semaphore(16)

    async def one(instance_id: str) -> tuple[str, Any]:
        async with gate:
            response = await client.status(instance_id, history=True, history_output=True)
            assert response.status == 200, response
            return instance_id, response.body

    return dict(await asyncio.gather(*(one(i) for i in ids)))
