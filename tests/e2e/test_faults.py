"""Crash safety: SIGKILL the runtime at the worst moments and restart it on the same store.

One 100-device run lives through four processes over one SQLite file:

(b) boot 1 is killed while activities are running (the moment is picked by polling the store
    for claimed activity work items; the app has no "slow activity" setting);
(a) boot 2 is killed while the run waits for acks (30 of 100 devices acked and done);
(c) boot 3 is killed right after events were accepted (the first 202 of a burst of acks) and
    before their episodes ran: the process is frozen with SIGSTOP the moment the 202 arrives,
    the store is read to prove the accepted events are still queued, then SIGKILL;
boot 4 finishes the run.

Every instance must complete with the right output and every accepted ack must appear exactly
once in its child's history. Activities run at least once, so a kill can make one run twice:
the figure is counted from the app's own log lines (one per execution: the build activity logs
"stored ... package <url>", the send activity "package ready ... on <instance>", the record
activity "<step> finished: ..."), appended across all four boots; the history is also checked
for duplicate completions (TaskCompleted per TaskScheduled id), which must be zero.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import sqlite3
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from devtools.durable_client import ACK_EVENT, DurableClient, Response, history_events
from devtools.host_process import LocalHost

from .conftest import E2E_SETTINGS, needs_durable_local

pytestmark = [pytest.mark.slow, needs_durable_local("SIGKILLs, freezes and restarts the host")]

PARENT = "fault-run"
DEVICES = [f"f{n:03d}" for n in range(100)]
EVENT_RAISED = 15  # DTFx EventType.EventRaised
FIRST_ACKED = 30


def child(device: str) -> str:
    return f"{PARENT}:device:{device}"


@contextlib.contextmanager
def read_store(path: Path) -> Iterator[sqlite3.Connection]:
    """A read-only view of the runtime's store (WAL: safe next to a live or frozen writer)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    try:
        yield conn
    finally:
        conn.close()


def claimed_activities(path: Path) -> list[tuple[str, str]]:
    with read_store(path) as conn:
        rows = conn.execute(
            "SELECT instance_id, name FROM activities WHERE lock_owner IS NOT NULL"
        ).fetchall()
    return [(row[0], row[1]) for row in rows]


def stored_acks(path: Path) -> tuple[set[str], set[str]]:
    """Children with a DownloadCompletedAck still queued, and those with one in history."""
    with read_store(path) as conn:
        queued = {
            row[0]
            for row in conn.execute(
                "SELECT instance_id FROM messages WHERE json_extract(event, '$.EventType') = ? "
                "AND json_extract(event, '$.Name') = ?",
                (EVENT_RAISED, ACK_EVENT),
            )
        }
        recorded = {
            row[0]
            for row in conn.execute(
                "SELECT instance_id FROM history WHERE json_extract(event, '$.EventType') = ? "
                "AND json_extract(event, '$.Name') = ?",
                (EVENT_RAISED, ACK_EVENT),
            )
        }
    return queued, recorded


async def all_awaiting(client: DurableClient, timeout: float = 60) -> dict[str, str]:
    """Wait until every child waits for its ack; returns child id -> package digest."""
    deadline = time.monotonic() + timeout
    while True:
        items = await client.list_prefix(f"{PARENT}:device:")
        waiting = {
            item["instanceId"]: item["customStatus"]["sha256"]
            for item in items
            if (item.get("customStatus") or {}).get("stage") == "awaiting_ack"
        }
        if len(waiting) == len(DEVICES):
            return waiting
        if time.monotonic() > deadline:
            raise AssertionError(f"only {len(waiting)} children are awaiting their ack")
        await asyncio.sleep(0.1)


def ack(digest: str) -> dict[str, Any]:
    return {"ok": True, "sha256": digest}


async def test_sigkill_and_restart_lose_nothing(tmp_path: Path) -> None:
    store = tmp_path / "durable.db"
    host = LocalHost(store, tmp_path / "durable-local.log", settings=E2E_SETTINGS)
    host.settings["ACK_TIMEOUT_SECONDS"] = "300"
    timeout = aiohttp.ClientTimeout(total=30)
    figures: list[str] = []
    try:
        # ---- (b) boot 1: killed while activities run -----------------------------------------
        host.start()
        async with aiohttp.ClientSession(timeout=timeout) as session:
            client = DurableClient(session, host.base_url)
            started = await client.start_devices({"deviceIds": DEVICES}, instance_id=PARENT)
            assert started.status == 202, started
            in_flight: list[tuple[str, str]] = []
            deadline = time.monotonic() + 30
            # Wait for a full house (every activity slot busy, host.json: 8); after 0.05 s,
            # settle for any activity in flight (the whole activity phase of the run can take
            # well under a second). Activities are quick, so what a poll saw may be over by the
            # time the process is frozen: freeze, look again, and let it run on until it is
            # frozen with activities in flight.
            patience = time.monotonic() + 0.05
            polls, most = 0, 0
            while time.monotonic() < deadline:
                seen = claimed_activities(store)
                polls, most = polls + 1, max(most, len(seen))
                if len(seen) >= 8 or (seen and time.monotonic() > patience):
                    host.pause()
                    in_flight = claimed_activities(store)
                    if in_flight:
                        break
                    host.cont()
                await asyncio.sleep(0.002)
            host.kill()
        assert in_flight, f"no activity was frozen in flight ({polls} polls, at most {most} seen)"
        figures.append(
            f"(b) killed with {len(in_flight)} activities in flight: "
            f"{dict(Counter(name for _, name in in_flight))}"
        )

        # ---- (a) boot 2: killed while the run waits for acks ---------------------------------
        host.start()
        async with aiohttp.ClientSession(timeout=timeout) as session:
            client = DurableClient(session, host.base_url)
            digests = await all_awaiting(client)
            first = [child(d) for d in DEVICES[:FIRST_ACKED]]
            answers = await asyncio.gather(*(client.raise_event(c, ack(digests[c])) for c in first))
            assert {a.status for a in answers} == {202}
            for child_id in first:
                await client.wait_for(child_id, {"Completed"}, timeout=30)
            parent = (await client.status(PARENT)).body
            assert parent["runtimeStatus"] == "Running"
            host.kill()
        figures.append(
            f"(a) killed while {len(DEVICES) - FIRST_ACKED} of {len(DEVICES)} children waited "
            f"for their ack (parent custom status: {parent['customStatus']['completed']} done)"
        )

        # ---- (c) boot 3: killed right after events were accepted -----------------------------
        host.start()
        rest = [child(d) for d in DEVICES[FIRST_ACKED:]]
        accepted: set[str] = set()
        async with aiohttp.ClientSession(timeout=timeout) as session:
            client = DurableClient(session, host.base_url)
            frozen = asyncio.Event()

            async def send(child_id: str) -> Response | None:
                try:
                    response = await client.raise_event(child_id, ack(digests[child_id]))
                except (TimeoutError, aiohttp.ClientError):
                    return None  # the runtime died under this request: outcome unknown
                if response.status == 202 and not frozen.is_set():
                    accepted.add(child_id)
                    host.pause()  # freeze it before the accepted event's episode can run
                    frozen.set()
                return response

            burst = [asyncio.create_task(send(c)) for c in rest]
            await asyncio.wait_for(frozen.wait(), 30)
            queued, recorded = stored_acks(store)
            host.kill()
            outcomes = await asyncio.gather(*burst)
        answered = {c for c, r in zip(rest, outcomes, strict=True) if r is not None}
        accepted |= {c for c, r in zip(rest, outcomes, strict=True) if r and r.status == 202}
        assert accepted, "no ack was accepted before the kill"
        # Every event answered 202 was committed before its answer: queued or already applied.
        assert accepted <= queued | recorded, accepted - (queued | recorded)
        pending_accepted = accepted & queued
        assert pending_accepted, "the kill came after every accepted event had been applied"
        figures.append(
            f"(c) killed right after {len(accepted)} acks were accepted (202): "
            f"{len(pending_accepted)} of them still queued, not yet applied; "
            f"{len(queued - accepted)} more stored without an answer; "
            f"{len(rest) - len(answered)} requests cut off by the kill"
        )

        # ---- boot 4: finish the run -----------------------------------------------------------
        host.start()
        async with aiohttp.ClientSession(timeout=timeout) as session:
            client = DurableClient(session, host.base_url)
            # Re-send only the acks the store never got (a retry of a stored one would count
            # twice in the history: raiseEvent is not idempotent on the real host either).
            missing = [c for c in rest if c not in queued | recorded]
            answers = await asyncio.gather(
                *(client.raise_event(c, ack(digests[c])) for c in missing)
            )
            assert {a.status for a in answers} <= {202}
            final = await client.wait_for(PARENT, timeout=60)
            histories = dict(
                zip(
                    [child(d) for d in DEVICES],
                    await asyncio.gather(
                        *(
                            client.status(child(d), history=True, history_output=True)
                            for d in DEVICES
                        )
                    ),
                    strict=True,
                )
            )
        host.stop()
        figures.append(f"boot 4 re-sent {len(missing)} acks the store never received")

        # ---- every instance completed with the right output ------------------------------------
        assert final["runtimeStatus"] == "Completed", final
        output = final["output"]
        assert output["total"] == len(DEVICES)
        assert output["succeeded"] == DEVICES
        assert output["failed"] == []
        assert output["status"] == "completed"
        duplicate_completions = 0
        for child_id, response in histories.items():
            status = response.body
            assert status["runtimeStatus"] == "Completed", (child_id, status["runtimeStatus"])
            assert status["output"]["status"] == "completed"
            assert status["output"]["digestVerified"] is True
            assert status["output"] == output["devices"][child_id.rsplit(":", 1)[-1]]
            # No accepted event lost, none applied twice.
            assert len(history_events(status, "EventRaised", ACK_EVENT)) == 1, child_id
            completions = history_events(status, "TaskCompleted")
            names = Counter(row["FunctionName"] for row in completions)
            assert names == {
                "build_device_installation_package": 1,
                "send_package_to_device": 1,
                "record_package_outcome": 1,
            }, (child_id, names)
            duplicate_completions += len(completions) - len(names)

        # ---- activity executions that ran twice (from the app's log) ---------------------------
        log = host.log_text()
        builds = Counter(re.findall(r"stored device-installation package \S*/(f\d{3})\.json", log))
        sends = Counter(re.findall(rf"package ready for device: .* on {PARENT}:device:(f\d+)", log))
        records = len(re.findall(r"device_provisioning finished: completed", log))
        assert set(builds) == set(DEVICES) and set(sends) == set(DEVICES)
        assert records >= len(DEVICES)
        twice = {
            "build_device_installation_package": sum(n - 1 for n in builds.values()),
            "send_package_to_device": sum(n - 1 for n in sends.values()),
            "record_package_outcome": records - len(DEVICES),
        }
        figures.append(
            f"instances: 1 parent + {len(DEVICES)} children, all Completed over "
            f"{host.starts} runtime processes (3 SIGKILLs)"
        )
        figures.append(
            f"activity executions: {sum(builds.values()) + sum(sends.values()) + records} for "
            f"{3 * len(DEVICES)} scheduled activities; ran twice: {sum(twice.values())} {twice}; "
            f"duplicate TaskCompleted in history: {duplicate_completions}"
        )
        assert duplicate_completions == 0
        # Only what was in flight at a kill can run again.
        assert sum(twice.values()) <= len(in_flight) + 8
    finally:
        host.kill()
        print("\n" + "\n".join(figures))
        # Keep the runtime log in the failure report.
        if host.log_path.exists():
            (tmp_path / "figures.json").write_text(json.dumps(figures))
