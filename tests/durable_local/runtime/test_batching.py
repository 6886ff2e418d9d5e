"""Batching through ``DurableRuntime``: messages that arrive while an episode runs, and
completions that arrive together, form one next episode (spec §2.2)."""

from __future__ import annotations

import asyncio
import threading

from durable_local.model import EventType
from tests.fixture_apps import runtime_app
from tests.helpers.runtime import Harness, of_type

ET = EventType


async def test_pending_messages_are_batched_into_one_episode(h: Harness) -> None:
    iid = "batch-1"
    gate = threading.Event()
    entered = threading.Event()
    runtime_app.ORCHESTRATOR_GATES[iid] = gate
    runtime_app.ORCHESTRATOR_ENTERED[iid] = entered
    await h.start("gated_events", None, iid)
    assert await asyncio.to_thread(entered.wait, 10)
    # the first episode is running (blocked): these three wait for the next one
    for name, value in (("C", 3), ("A", 1), ("B", 2)):
        await h.rt.raise_event(iid, name, value)
    gate.set()
    await h.rt.wait_idle()
    status = await h.status(iid)
    assert status["runtimeStatus"] == "Completed"
    assert status["output"] == [1, 2, 3]
    assert h.types(iid) == [
        ET.ORCHESTRATOR_STARTED,
        ET.EXECUTION_STARTED,
        ET.ORCHESTRATOR_COMPLETED,
        ET.ORCHESTRATOR_STARTED,
        ET.EVENT_RAISED,
        ET.EVENT_RAISED,
        ET.EVENT_RAISED,
        ET.EXECUTION_COMPLETED,
        ET.ORCHESTRATOR_COMPLETED,
    ]
    # in arrival order
    assert [e["Name"] for e in of_type(h.history(iid), ET.EVENT_RAISED)] == ["C", "A", "B"]


async def test_completions_arriving_together_share_an_episode(h: Harness) -> None:
    iid = await h.run("fan_out", 5)
    status = await h.status(iid)
    assert status["runtimeStatus"] == "Completed"
    assert status["output"]["sum"] == 10
    assert status["output"]["any"] in ("Hello p!", "Hi q!")
    events = h.history(iid)
    assert sorted(e["EventId"] for e in of_type(events, ET.TASK_SCHEDULED)) == list(range(7))
    completed = sorted(e["TaskScheduledId"] for e in of_type(events, ET.TASK_COMPLETED))
    assert completed == list(range(7))
    # never more episodes than messages: 1 start + at most 7 completions
    assert len(of_type(events, ET.ORCHESTRATOR_STARTED)) <= 8
