"""Runtime behaviour through ``DurableRuntime`` with real SDK orchestrators (runtime_app.py),
a ManualClock and an in-memory SQLite store (issue 2: "Must behave as the real host does" and
"Errors")."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest

from durable_local.model import EventType, QueryFilter, RuntimeStatus, parse_time
from durable_local.model.errors import (
    BadRequest,
    DurableError,
    InstanceAlreadyExists,
    InstanceGone,
    InstanceNotFound,
    InvalidOperation,
)
from tests.fixture_apps import runtime_app
from tests.helpers.runtime import Harness, of_type

ET = EventType


# -- basics, episodes, history --------------------------------------------------------------------
async def test_chain_of_sync_and_async_activities(h: Harness) -> None:
    iid = await h.run("chain", "Tokyo")
    status = await h.status(iid)
    assert status["runtimeStatus"] == "Completed"
    assert status["output"] == ["Hello Tokyo!", "Hi Hello Tokyo!!"]
    assert status["name"] == "chain" and status["instanceId"] == iid
    assert runtime_app.CALLS == {"hello": 1, "hello_async": 1}
    # canonical episode shape (spec §2.2)
    assert h.types(iid) == [
        ET.ORCHESTRATOR_STARTED,
        ET.EXECUTION_STARTED,
        ET.TASK_SCHEDULED,
        ET.ORCHESTRATOR_COMPLETED,
        ET.ORCHESTRATOR_STARTED,
        ET.TASK_COMPLETED,
        ET.TASK_SCHEDULED,
        ET.ORCHESTRATOR_COMPLETED,
        ET.ORCHESTRATOR_STARTED,
        ET.TASK_COMPLETED,
        ET.EXECUTION_COMPLETED,
        ET.ORCHESTRATOR_COMPLETED,
    ]
    scheduled = of_type(h.history(iid), ET.TASK_SCHEDULED)
    # activity input stored as DTFx's one-element params array of JSON text (spec §4.1)
    assert [json.loads(e["Input"]) for e in scheduled] == [['"Tokyo"'], ['"Hello Tokyo!"']]
    assert [e["Name"] for e in scheduled] == ["hello", "hello_async"]


async def test_generated_instance_id_is_32_hex(h: Harness) -> None:
    iid = await h.run("plain", {"a": 1})
    assert len(iid) == 32 and all(c in "0123456789abcdef" for c in iid)
    status = await h.status(iid)
    assert status["runtimeStatus"] == "Completed"
    assert status["output"] == {"plain": {"a": 1}}


async def test_orchestrator_sees_full_history_with_is_played(h: Harness) -> None:
    iid = await h.run("replay_probe")
    status = await h.status(iid)
    assert status["runtimeStatus"] == "Completed"
    # last episode: resumed from played history, the final completion is new
    assert status["output"] == [True, True, False]
    calls = runtime_app.SEEN_HISTORIES[iid]
    assert len(calls) == 3  # one invocation per episode
    os_ = int(ET.ORCHESTRATOR_STARTED)
    assert calls[0] == [(os_, False), (int(ET.EXECUTION_STARTED), False)]
    last = calls[-1]
    # the full history of the execution, in order
    assert [t for t, _ in last] == [
        os_,
        ET.EXECUTION_STARTED,
        ET.TASK_SCHEDULED,
        ET.ORCHESTRATOR_COMPLETED,
        os_,
        ET.TASK_COMPLETED,
        ET.TASK_SCHEDULED,
        ET.ORCHESTRATOR_COMPLETED,
        os_,
        ET.TASK_COMPLETED,
    ]
    # IsPlayed: past events true, OrchestratorStarted always false, this episode's events false
    assert [played for _, played in last] == [
        False,
        True,
        True,
        True,
        False,
        True,
        True,
        True,
        False,
        False,
    ]


async def test_sequence_ids_across_kinds(h: Harness) -> None:
    iid = await h.run("mixed")
    assert (await h.status(iid))["runtimeStatus"] == "Running"
    await h.advance(timedelta(seconds=10))
    status = await h.status(iid)
    assert status["runtimeStatus"] == "Completed"
    assert status["output"] == {
        "first": "Hello x!",
        "fan": [0, 1, 2],
        "child": ["Hello kid!", "Hi Hello kid!!"],
    }
    events = h.history(iid)
    ids = {
        e["EventId"]: e["EventType"]
        for e in events
        if e["EventType"]
        in (ET.TASK_SCHEDULED, ET.TIMER_CREATED, ET.SUB_ORCHESTRATION_INSTANCE_CREATED)
    }
    assert ids == {
        0: ET.TASK_SCHEDULED,
        1: ET.TIMER_CREATED,
        2: ET.TASK_SCHEDULED,
        3: ET.TASK_SCHEDULED,
        4: ET.TASK_SCHEDULED,
        5: ET.SUB_ORCHESTRATION_INSTANCE_CREATED,
    }
    assert [e["TimerId"] for e in of_type(events, ET.TIMER_FIRED)] == [1]
    assert of_type(events, ET.SUB_ORCHESTRATION_INSTANCE_COMPLETED)[0]["TaskScheduledId"] == 5
    # a failed id check never happened: every completion matches a scheduling event
    for e in of_type(events, ET.TASK_COMPLETED):
        assert ids[e["TaskScheduledId"]] == ET.TASK_SCHEDULED


# -- unknown functions, failures -----------------------------------------------------------------
async def test_unknown_activity_fails_the_instance(h: Harness) -> None:
    iid = await h.run("calls_unknown_activity")
    status = await h.status(iid)
    assert status["runtimeStatus"] == "Failed"
    assert status["output"].startswith(
        "Orchestrator function 'calls_unknown_activity' failed: The function 'no_such_activity' "
        "doesn't exist, is disabled, or is not an activity function."
    )
    assert of_type(h.history(iid), ET.TASK_SCHEDULED) == []


async def test_unknown_sub_orchestrator_fails_the_instance(h: Harness) -> None:
    iid = await h.run("calls_unknown_orchestrator")
    status = await h.status(iid)
    assert status["runtimeStatus"] == "Failed"
    assert (
        "The function 'no_such_orchestrator' doesn't exist, is disabled, or is not an "
        "orchestrator function." in status["output"]
    )
    assert status["output"].startswith("Orchestrator function 'calls_unknown_orchestrator' failed")


async def test_start_unknown_orchestrator_is_bad_request(h: Harness) -> None:
    with pytest.raises(BadRequest) as raised:
        await h.rt.start_new("no_such_orchestrator")
    assert raised.value.http_status == 400
    assert "no_such_orchestrator" in str(raised.value)


async def test_orchestrator_names_are_case_insensitive(h: Harness) -> None:
    iid = await h.run("CHAIN", "x")
    status = await h.status(iid)
    assert status["name"] == "chain" and status["runtimeStatus"] == "Completed"


async def test_task_failed_reason_and_details_shape(h: Harness) -> None:
    iid = await h.run("catches_failure")
    status = await h.status(iid)
    assert status["runtimeStatus"] == "Completed"
    [failed] = of_type(h.history(iid), ET.TASK_FAILED)
    assert failed["Reason"] == "Activity function 'fail_always' failed:  ValueError: boom"
    assert failed["TaskScheduledId"] == 0
    assert "ValueError" in failed["Details"] and "boom" in failed["Details"]
    # the SDK surfaces it to the orchestrator as "{Reason} \n {Details}" (spec §3.4)
    assert status["output"].startswith(
        "Activity function 'fail_always' failed:  ValueError: boom \n "
    )


async def test_orchestrator_exception_fails_with_host_message(h: Harness) -> None:
    iid = await h.run("raiser")
    status = await h.status(iid, show_history=True, show_history_output=True)
    assert status["runtimeStatus"] == "Failed"
    assert status["output"] == "Orchestrator function 'raiser' failed: nope"
    # the actions in $OutOfProcData$ were processed: the activity before the raise ran once
    assert runtime_app.CALLS == {"hello": 1}
    rows = status["historyEvents"]
    assert rows[-1]["EventType"] == "ExecutionCompleted"
    assert rows[-1]["OrchestrationStatus"] == "Failed"
    assert rows[-1]["Result"] == "Orchestrator function 'raiser' failed: nope"


async def test_non_determinism_fails_with_clear_reason(h: Harness) -> None:
    iid = await h.run("shifty")
    assert (await h.status(iid))["runtimeStatus"] == "Running"
    runtime_app.ACTIVITY_NAME["shifty"] = "hello_async"  # "a code change" mid-flight
    await h.rt.raise_event(iid, "E", 1)
    await h.rt.wait_idle()
    status = await h.status(iid)
    assert status["runtimeStatus"] == "Failed"
    assert "Non-Deterministic" in status["output"]
    assert "'hello'" in status["output"] and "'hello_async'" in status["output"]
    assert "sequence number 0" in status["output"]


# -- sub-orchestrations --------------------------------------------------------------------------
async def test_sub_orchestration_with_explicit_id(h: Harness) -> None:
    iid = await h.run("parent", {"mode": "explicit", "child_id": "kid-1"}, "parent-1")
    status = await h.status(iid)
    assert status["runtimeStatus"] == "Completed"
    assert status["output"] == ["Hello kid!", "Hi Hello kid!!"]
    child = await h.status("kid-1")
    assert child["runtimeStatus"] == "Completed" and child["name"] == "chain"
    assert child["output"] == status["output"]
    [created] = of_type(h.history(iid), ET.SUB_ORCHESTRATION_INSTANCE_CREATED)
    assert (created["InstanceId"], created["Name"], created["EventId"]) == ("kid-1", "chain", 0)
    # the child knows its parent (spec §7.7)
    [started] = of_type(h.history("kid-1"), ET.EXECUTION_STARTED)
    parent_exec = of_type(h.history(iid), ET.EXECUTION_STARTED)[0]["OrchestrationInstance"]
    assert started["ParentInstance"]["OrchestrationInstance"] == parent_exec
    assert started["ParentInstance"]["TaskScheduleId"] == 0
    record = h.rt.store.get_instance("kid-1")
    assert record is not None and record.parent is not None
    assert record.parent.instance_id == "parent-1"


async def test_sub_orchestration_default_id_is_execution_and_sequence(h: Harness) -> None:
    iid = await h.run("parent", {"mode": "default"}, "parent-2")
    assert (await h.status(iid))["runtimeStatus"] == "Completed"
    execution_id = of_type(h.history(iid), ET.EXECUTION_STARTED)[0]["OrchestrationInstance"][
        "ExecutionId"
    ]
    child_id = f"{execution_id}:0"
    [created] = of_type(h.history(iid), ET.SUB_ORCHESTRATION_INSTANCE_CREATED)
    assert created["InstanceId"] == child_id
    child = await h.status(child_id)
    assert child["runtimeStatus"] == "Completed"
    assert child["input"] == '"kid"'  # the JSON text, as for any Python-started instance


async def test_child_failure_is_delivered_to_parent(h: Harness) -> None:
    iid = await h.run("parent", {"mode": "failing", "child_id": "bad-kid"}, "parent-3")
    status = await h.status(iid)
    assert status["runtimeStatus"] == "Completed"
    assert status["output"]["caught"].startswith("Orchestrator function 'raiser' failed: nope")
    assert (await h.status("bad-kid"))["runtimeStatus"] == "Failed"
    [failed] = of_type(h.history(iid), ET.SUB_ORCHESTRATION_INSTANCE_FAILED)
    assert failed["Reason"] == "Orchestrator function 'raiser' failed: nope"
    assert failed["TaskScheduledId"] == 0


async def test_child_id_equal_to_parent_id_is_rejected(h: Harness) -> None:
    iid = await h.run("parent", {"mode": "self"}, "selfish")
    status = await h.status(iid)
    assert status["runtimeStatus"] == "Failed"
    assert "must be different" in status["output"]
    assert status["output"].startswith("Orchestrator function 'parent' failed")
    record = h.rt.store.get_instance("selfish")
    assert record is not None and record.name == "parent" and record.parent is None


# -- timers --------------------------------------------------------------------------------------
async def test_durable_timer_fires_when_clock_reaches_it(h: Harness) -> None:
    iid = await h.run("sleeper", 3600)
    assert (await h.status(iid))["runtimeStatus"] == "Running"
    await h.advance(timedelta(minutes=59, seconds=59))
    assert (await h.status(iid))["runtimeStatus"] == "Running"
    await h.advance(timedelta(seconds=1))
    status = await h.status(iid)
    assert status["runtimeStatus"] == "Completed"
    assert status["output"] == {"woke": "2026-01-01T01:00:00+00:00"}
    [created] = of_type(h.history(iid), ET.TIMER_CREATED)
    [fired] = of_type(h.history(iid), ET.TIMER_FIRED)
    assert created["FireAt"] == fired["FireAt"] == "2026-01-01T01:00:00.0000000Z"
    assert fired["TimerId"] == created["EventId"] == 0


async def test_long_timer_is_sliced_by_the_sdk(h: Harness) -> None:
    ten_days = 10 * 24 * 3600
    iid = await h.run("sleeper", ten_days)
    for _ in range(9):
        assert (await h.status(iid))["runtimeStatus"] == "Running"
        await h.advance(timedelta(days=1))
    assert (await h.status(iid))["runtimeStatus"] == "Running"
    await h.advance(timedelta(days=1))
    status = await h.status(iid)
    assert status["runtimeStatus"] == "Completed"
    assert status["output"] == {"woke": "2026-01-11T00:00:00+00:00"}
    created = of_type(h.history(iid), ET.TIMER_CREATED)
    assert [e["FireAt"][:19] for e in created] == [
        "2026-01-04T00:00:00",
        "2026-01-07T00:00:00",
        "2026-01-11T00:00:00",
    ]
    assert [e["EventId"] for e in created] == [0, 1, 2]
    assert [e["TimerId"] for e in of_type(h.history(iid), ET.TIMER_FIRED)] == [0, 1, 2]


async def test_long_timer_with_one_big_jump(h: Harness) -> None:
    iid = await h.run("sleeper", 7 * 24 * 3600)
    await h.advance(timedelta(days=30))
    # 7 d > 6 d: a first 3 d slice. It fires in an episode whose OrchestratorStarted is already
    # past the final FireAt, so the SDK completes the long timer without another slice (§2.4).
    status = await h.status(iid)
    assert status["runtimeStatus"] == "Completed"
    fired = of_type(h.history(iid), ET.TIMER_FIRED)
    assert [e["FireAt"][:19] for e in fired] == ["2026-01-04T00:00:00"]
    assert status["output"] == {"woke": "2026-01-31T00:00:00+00:00"}


async def test_cancelled_timer_does_not_block_completion(h: Harness) -> None:
    iid = await h.run("event_or_timeout")
    await h.rt.raise_event(iid, "Go", {"ok": True})
    await h.rt.wait_idle()
    status = await h.status(iid)
    assert status["runtimeStatus"] == "Completed"
    assert status["output"] == {"event": {"ok": True}}
    length = len(h.history(iid))
    await h.advance(timedelta(hours=2))  # the cancelled timer's TimerFired changes nothing
    assert len(h.history(iid)) == length
    assert (await h.status(iid))["runtimeStatus"] == "Completed"


async def test_task_any_timer_wins(h: Harness) -> None:
    iid = await h.run("event_or_timeout")
    await h.advance(timedelta(hours=1))
    status = await h.status(iid)
    assert status["runtimeStatus"] == "Completed" and status["output"] == "timeout"
    with pytest.raises(InstanceGone):
        await h.rt.raise_event(iid, "Go", 1)


async def test_done_with_open_task_any_loser_stays_running(h: Harness) -> None:
    iid = await h.run("any_leaves_timer")
    status = await h.status(iid)
    # the orchestrator returned, but its uncancelled timer is still open (spec §3.5)
    assert status["runtimeStatus"] == "Running"
    assert status["output"] is None
    assert of_type(h.history(iid), ET.EXECUTION_COMPLETED) == []
    await h.advance(timedelta(minutes=30))
    assert (await h.status(iid))["runtimeStatus"] == "Running"
    await h.advance(timedelta(minutes=30))
    status = await h.status(iid)
    assert status["runtimeStatus"] == "Completed"
    assert status["output"] == "activity"
    assert len(of_type(h.history(iid), ET.EXECUTION_COMPLETED)) == 1


# -- retries -------------------------------------------------------------------------------------
async def test_activity_retry_succeeds(h: Harness) -> None:
    iid = await h.run("retry_activity", {"key": "ok:3", "attempts": 3})
    assert (await h.status(iid))["runtimeStatus"] == "Running"
    await h.advance(timedelta(seconds=1))
    assert (await h.status(iid))["runtimeStatus"] == "Running"
    await h.advance(timedelta(seconds=1))
    status = await h.status(iid)
    assert status["runtimeStatus"] == "Completed"
    assert status["output"] == {"key": "ok:3", "attempts": 3}
    assert [
        (e["EventType"], e.get("EventId"), e.get("TaskScheduledId", e.get("TimerId")))
        for e in h.history(iid)
        if e["EventType"]
        not in (
            ET.ORCHESTRATOR_STARTED,
            ET.ORCHESTRATOR_COMPLETED,
            ET.EXECUTION_STARTED,
            ET.EXECUTION_COMPLETED,
        )
    ] == [
        (ET.TASK_SCHEDULED, 0, None),
        (ET.TASK_FAILED, -1, 0),
        (ET.TIMER_CREATED, 1, None),
        (ET.TIMER_FIRED, -1, 1),
        (ET.TASK_SCHEDULED, 2, None),
        (ET.TASK_FAILED, -1, 2),
        (ET.TIMER_CREATED, 3, None),
        (ET.TIMER_FIRED, -1, 3),
        (ET.TASK_SCHEDULED, 4, None),
        (ET.TASK_COMPLETED, -1, 4),
    ]
    timers = of_type(h.history(iid), ET.TIMER_CREATED)
    for timer in timers:  # firstRetryInterval 1000 ms, backoff 1
        assert parse_time(timer["FireAt"]) - parse_time(timer["Timestamp"]) == timedelta(seconds=1)


async def test_activity_retry_exhaustion_ends_with_immediate_timer(h: Harness) -> None:
    iid = await h.run("retry_activity", {"key": None, "attempts": 2})
    await h.advance(timedelta(seconds=1))
    status = await h.status(iid)
    assert status["runtimeStatus"] == "Failed"
    assert status["output"].startswith(
        "Orchestrator function 'retry_activity' failed: "
        "Activity function 'fail_always' failed:  ValueError: boom"
    )
    assert runtime_app.CALLS["fail_always"] == 2
    events = h.history(iid)
    assert [e["EventId"] for e in of_type(events, ET.TASK_SCHEDULED)] == [0, 2]
    first_timer, final_timer = of_type(events, ET.TIMER_CREATED)
    assert first_timer["EventId"] == 1 and final_timer["EventId"] == 3
    # "dummy timer for back-compat": due at once (spec §7.6)
    assert final_timer["FireAt"] == final_timer["Timestamp"]
    assert [e["TimerId"] for e in of_type(events, ET.TIMER_FIRED)] == [1, 3]


async def test_sub_orchestration_retry_succeeds_with_explicit_id(h: Harness) -> None:
    spec = {"key": "sub:2", "attempts": 3, "child_id": "retried-kid"}
    iid = await h.run("retry_child", spec)
    assert (await h.status(iid))["runtimeStatus"] == "Running"
    await h.advance(timedelta(milliseconds=500))
    status = await h.status(iid)
    assert status["runtimeStatus"] == "Completed"
    assert status["output"] == {"key": "sub:2", "attempts": 2}
    created = of_type(h.history(iid), ET.SUB_ORCHESTRATION_INSTANCE_CREATED)
    # the same instance id is reused for every attempt
    assert [(e["EventId"], e["InstanceId"]) for e in created] == [
        (0, "retried-kid"),
        (2, "retried-kid"),
    ]
    assert [e["EventId"] for e in of_type(h.history(iid), ET.TIMER_CREATED)] == [1]
    kid = await h.status("retried-kid")
    assert kid["runtimeStatus"] == "Completed"


async def test_sub_orchestration_retry_exhaustion_with_default_ids(h: Harness) -> None:
    iid = await h.run("retry_child", {"key": "never:99", "attempts": 2})
    await h.advance(timedelta(milliseconds=500))
    status = await h.status(iid)
    assert status["runtimeStatus"] == "Failed"
    assert "Orchestrator function 'flaky_child' failed" in status["output"]
    events = h.history(iid)
    execution_id = of_type(events, ET.EXECUTION_STARTED)[0]["OrchestrationInstance"]["ExecutionId"]
    created = of_type(events, ET.SUB_ORCHESTRATION_INSTANCE_CREATED)
    assert [e["InstanceId"] for e in created] == [f"{execution_id}:0", f"{execution_id}:2"]
    for e in created:
        assert (await h.status(e["InstanceId"]))["runtimeStatus"] == "Failed"
    final_timer = of_type(events, ET.TIMER_CREATED)[-1]
    assert final_timer["EventId"] == 3 and final_timer["FireAt"] == final_timer["Timestamp"]


# -- external events -----------------------------------------------------------------------------
async def test_raise_event_errors(h: Harness) -> None:
    with pytest.raises(InstanceNotFound) as missing:
        await h.rt.raise_event("nobody", "E", 1)
    assert missing.value.http_status == 404
    iid = await h.run("plain", 1)
    with pytest.raises(InstanceGone) as gone:
        await h.rt.raise_event(iid, "E", 1)
    assert gone.value.http_status == 410
    assert "Completed" in str(gone.value)


async def test_event_raised_before_it_is_awaited_is_buffered(h: Harness) -> None:
    iid = await h.start("waiter", None, "early")
    await h.rt.raise_event(iid, "E", {"v": 1})  # before the first episode ran
    await h.rt.wait_idle()
    status = await h.status(iid)
    assert status["runtimeStatus"] == "Completed" and status["output"] == {"v": 1}


async def test_event_names_are_case_sensitive_for_the_sdk(h: Harness) -> None:
    iid = await h.run("waiter")
    await h.rt.raise_event(iid, "e", 1)  # wrong case: recorded, not delivered
    await h.rt.wait_idle()
    assert (await h.status(iid))["runtimeStatus"] == "Running"
    assert len(of_type(h.history(iid), ET.EVENT_RAISED)) == 1
    await h.rt.raise_event(iid, "E", 2)
    await h.rt.wait_idle()
    status = await h.status(iid)
    assert status["runtimeStatus"] == "Completed" and status["output"] == 2


# -- continue-as-new, terminate, suspend/resume, rewind, restart --------------------------------
async def test_continue_as_new_keeps_id_with_new_execution(h: Harness) -> None:
    iid = await h.start("counter", 0, "loop")
    first_exec = h.rt.store.get_instance(iid)
    assert first_exec is not None
    await h.rt.wait_idle()
    status = await h.status(iid)
    assert status["runtimeStatus"] == "Completed"
    assert status["output"] == {"final": 3, "instance": "loop"}
    record = h.rt.store.get_instance(iid)
    assert record is not None and record.execution_id != first_exec.execution_id
    # the history is the last execution's only, started with the carried input
    events = h.history(iid)
    [started] = of_type(events, ET.EXECUTION_STARTED)
    assert json.loads(json.loads(started["Input"])) == 3
    assert started["OrchestrationInstance"]["ExecutionId"] == record.execution_id
    assert [json.loads(json.loads(e["Input"])[0]) for e in of_type(events, ET.TASK_SCHEDULED)] == [
        3
    ]
    assert len(of_type(events, ET.EXECUTION_COMPLETED)) == 1
    assert status["createdTime"] == "2026-01-01T00:00:00Z"


async def test_terminate(h: Harness) -> None:
    iid = await h.run("waiter")
    await h.rt.terminate(iid, "enough")
    await h.rt.wait_idle()
    status = await h.status(iid)
    assert status["runtimeStatus"] == "Terminated"
    assert status["output"] == "enough"
    events = h.history(iid)
    assert [e["Input"] for e in of_type(events, ET.EXECUTION_TERMINATED)] == ["enough"]
    assert of_type(events, ET.EXECUTION_COMPLETED)[0]["OrchestrationStatus"] == 5
    with pytest.raises(InstanceGone):
        await h.rt.terminate(iid, "again")
    with pytest.raises(InstanceNotFound):
        await h.rt.terminate("nobody", "x")


async def test_terminate_a_pending_instance(h: Harness) -> None:
    iid = await h.start("waiter", None, "never-ran")
    await h.rt.terminate(iid, "cancelled early")
    await h.rt.wait_idle()
    status = await h.status(iid)
    assert status["runtimeStatus"] == "Terminated" and status["output"] == "cancelled early"


async def test_suspend_and_resume(h: Harness) -> None:
    iid = await h.start("suspendable", "s1", "susp")
    await h.rt.wait_for_status(iid, RuntimeStatus.RUNNING)
    await h.rt.suspend(iid, "hold on")
    await h.rt.wait_for_status(iid, RuntimeStatus.SUSPENDED)
    with pytest.raises(InvalidOperation):
        await h.rt.suspend(iid, "twice")
    # the running activity finishes and an event arrives while suspended
    runtime_app.ACTIVITY_GATES.setdefault("s1", threading.Event()).set()
    await h.rt.raise_event(iid, "E", "while-suspended")
    await h.rt.wait_idle()
    status = await h.status(iid)
    assert status["runtimeStatus"] == "Suspended"
    events = h.history(iid)
    # no new actions while suspended: nothing scheduled after the first activity
    assert [e["Name"] for e in of_type(events, ET.TASK_SCHEDULED)] == ["blocker"]
    assert [e["Reason"] for e in of_type(events, ET.EXECUTION_SUSPENDED)] == ["hold on"]
    # what arrives while suspended is recorded in history at once, as DTFx does
    assert [e["Input"] for e in of_type(events, ET.EVENT_RAISED)] == ['"while-suspended"']
    assert runtime_app.CALLS.get("hello") is None

    await h.rt.resume(iid, "go on")
    await h.rt.wait_idle()
    status = await h.status(iid)
    assert status["runtimeStatus"] == "Completed"
    assert status["output"] == ["unblocked s1", "while-suspended", "Hello after!"]
    events = h.history(iid)
    assert [e["Reason"] for e in of_type(events, ET.EXECUTION_RESUMED)] == ["go on"]
    resumed_at = h.types(iid).index(ET.EXECUTION_RESUMED)
    hello_at = next(
        n
        for n, e in enumerate(events)
        if e["EventType"] == ET.TASK_SCHEDULED and e["Name"] == "hello"
    )
    assert hello_at > resumed_at
    with pytest.raises(InstanceGone):
        await h.rt.resume(iid)


async def test_resume_of_a_running_instance_is_invalid(h: Harness) -> None:
    iid = await h.run("waiter")
    with pytest.raises(InvalidOperation) as raised:
        await h.rt.resume(iid, "not suspended")
    assert raised.value.http_status == 500
    with pytest.raises(InstanceNotFound):
        await h.rt.suspend("nobody")


async def test_rewind_a_failed_instance(h: Harness) -> None:
    iid = await h.run("rewindable", "rw:2")
    status = await h.status(iid)
    assert status["runtimeStatus"] == "Failed"
    assert "attempt 1 failed" in status["output"]
    await h.rt.rewind(iid, "try again")
    await h.rt.wait_idle()
    status = await h.status(iid)
    assert status["runtimeStatus"] == "Completed"
    assert status["output"] == ["Hello one!", {"key": "rw:2", "attempts": 2}]
    # the successful first activity was not run again
    assert runtime_app.CALLS["hello"] == 1
    assert runtime_app.CALLS["flaky:rw:2"] == 2
    with pytest.raises(InstanceGone):
        await h.rt.rewind(iid)


async def test_rewind_of_a_running_instance_is_invalid(h: Harness) -> None:
    iid = await h.run("waiter")
    with pytest.raises(InvalidOperation):
        await h.rt.rewind(iid)
    with pytest.raises(InstanceNotFound):
        await h.rt.rewind("nobody")


async def test_restart_with_new_and_same_id(h: Harness) -> None:
    iid = await h.run("chain", "R", "orig")
    fresh = await h.rt.restart(iid)
    assert fresh != iid and len(fresh) == 32
    await h.rt.wait_idle()
    status = await h.status(fresh)
    assert status["runtimeStatus"] == "Completed" and status["name"] == "chain"
    assert status["output"] == ["Hello R!", "Hi Hello R!!"]

    h.clock.advance(timedelta(minutes=1))
    same = await h.rt.restart(iid, restart_with_new_instance_id=False)
    assert same == iid
    await h.rt.wait_idle()
    status = await h.status(iid)
    assert status["runtimeStatus"] == "Completed"
    assert status["createdTime"] == "2026-01-01T00:01:00Z"
    assert len(of_type(h.history(iid), ET.EXECUTION_STARTED)) == 1
    with pytest.raises(BadRequest):
        await h.rt.restart("nobody")


async def test_restart_of_a_running_instance_with_same_id_is_rejected(h: Harness) -> None:
    iid = await h.run("waiter", None, "busy")
    with pytest.raises(InstanceAlreadyExists):
        await h.rt.restart(iid, restart_with_new_instance_id=False)


# -- starting: ids and existing instances ----------------------------------------------------------
@pytest.mark.parametrize(
    "bad_id", ["@x", "a/b", "a\\b", "a?b", "a#b", "a\x01b", "tab\there", "a\x7fb", "x" * 257]
)
async def test_invalid_instance_ids_are_bad_requests(h: Harness, bad_id: str) -> None:
    with pytest.raises(BadRequest) as raised:
        await h.rt.start_new("plain", None, bad_id)
    assert raised.value.http_status == 400
    assert str(raised.value).startswith("instanceId (Parameter '")
    assert h.rt.store.get_instance(bad_id) is None


async def test_longest_valid_instance_id(h: Harness) -> None:
    iid = await h.run("plain", None, "x" * 256)
    assert (await h.status(iid))["runtimeStatus"] == "Completed"


async def test_start_over_active_instance_is_rejected(h: Harness) -> None:
    await h.run("waiter", "first", "dup")
    with pytest.raises(InstanceAlreadyExists) as raised:
        await h.rt.start_new("chain", "second", "dup")
    assert raised.value.http_status == 500
    assert str(raised.value) == "An Orchestration instance with the status Running already exists."
    status = await h.status("dup")
    assert status["name"] == "waiter" and status["input"] == '"first"'


async def test_start_over_pending_instance_is_rejected(h: Harness) -> None:
    await h.rt.start_new("waiter", None, "pend")  # no episode has run yet
    with pytest.raises(InstanceAlreadyExists) as raised:
        await h.rt.start_new("waiter", None, "pend")
    assert "Pending" in str(raised.value)


async def test_start_over_finished_instance_replaces_it(h: Harness) -> None:
    await h.run("chain", "one", "again")
    h.clock.advance(timedelta(seconds=30))
    await h.run("plain", "two", "again")
    status = await h.status("again", show_history=True)
    assert status["runtimeStatus"] == "Completed"
    assert (status["name"], status["output"]) == ("plain", {"plain": "two"})
    assert status["createdTime"] == "2026-01-01T00:00:30Z"
    assert [r["EventType"] for r in status["historyEvents"]] == [
        "ExecutionStarted",
        "ExecutionCompleted",
    ]
    assert status["historyEvents"][0]["Generation"] == 1


# -- status, custom status, history rendering ------------------------------------------------------
async def test_custom_status_output_and_times(h: Harness) -> None:
    iid = await h.run("waiter", {"in": 1}, "cs")
    status = await h.status(iid)
    assert status["runtimeStatus"] == "Running"
    assert status["customStatus"] == {"stage": "waiting"}
    assert status["input"] == '{"in": 1}'
    assert status["output"] is None
    assert status["createdTime"] == status["lastUpdatedTime"] == "2026-01-01T00:00:00Z"
    h.clock.advance(timedelta(seconds=5))
    await h.rt.raise_event(iid, "E", [1, 2])
    await h.rt.wait_idle()
    status = await h.status(iid, show_input=False)
    assert status["runtimeStatus"] == "Completed"
    assert status["customStatus"] == {"stage": "done"}
    assert status["output"] == [1, 2]
    assert status["input"] is None
    assert status["createdTime"] == "2026-01-01T00:00:00Z"
    assert status["lastUpdatedTime"] == "2026-01-01T00:00:05Z"
    assert "historyEvents" not in status


async def test_get_status_of_missing_instance(h: Harness) -> None:
    with pytest.raises(InstanceNotFound) as raised:
        await h.rt.get_status("nobody")
    assert raised.value.http_status == 404
    assert isinstance(raised.value, DurableError)


async def test_show_history_rendering(h: Harness) -> None:
    iid = await h.run("catches_failure", None, "render")
    await h.start("chain", "Z", "render2")
    await h.rt.wait_idle()
    status = await h.status("render2", show_history=True, show_history_output=True)
    rows = status["historyEvents"]
    assert [r["EventType"] for r in rows] == [
        "ExecutionStarted",
        "TaskCompleted",
        "TaskCompleted",
        "ExecutionCompleted",
    ]
    for row in rows:
        assert "EventId" not in row and "IsPlayed" not in row
    started = rows[0]
    assert started["FunctionName"] == "chain"
    for hidden in ("OrchestrationInstance", "ParentInstance", "Version", "Tags", "Name"):
        assert hidden not in started
    first = rows[1]
    assert first["FunctionName"] == "hello"
    assert first["Result"] == "Hello Z!"
    assert first["ScheduledTime"].endswith("Z")
    assert "Input" in first
    assert rows[3]["OrchestrationStatus"] == "Completed"
    assert rows[3]["Result"] == ["Hello Z!", "Hi Hello Z!!"]

    quiet = await h.status("render2", show_history=True, show_input=False)
    rows = quiet["historyEvents"]
    assert all("Result" not in r for r in rows)
    assert all("Input" not in r for r in rows)
    assert quiet["input"] is None

    failed_rows = (await h.status(iid, show_history=True))["historyEvents"]
    failed = next(r for r in failed_rows if r["EventType"] == "TaskFailed")
    assert failed["FunctionName"] == "fail_always"
    assert failed["Reason"] == "Activity function 'fail_always' failed:  ValueError: boom"


async def test_show_history_of_timers_and_events(h: Harness) -> None:
    iid = await h.run("event_or_timeout")
    await h.advance(timedelta(hours=1))
    rows = (await h.status(iid, show_history=True))["historyEvents"]
    kinds = [r["EventType"] for r in rows]
    assert kinds == ["ExecutionStarted", "TimerCreated", "TimerFired", "ExecutionCompleted"]
    assert "TimerId" not in rows[2]
    assert rows[2]["FireAt"] == "2026-01-01T01:00:00.0000000Z"


# -- query, purge --------------------------------------------------------------------------------
async def test_query_filters_and_paging(h: Harness) -> None:
    ids = []
    for n in range(7):
        ids.append(await h.start("waiter", n, f"q-{n}"))
        h.clock.advance(timedelta(minutes=1))
    await h.start("plain", None, "q_special%")
    await h.rt.wait_idle()
    for n in (1, 3):
        await h.rt.raise_event(f"q-{n}", "E", n)
    await h.rt.terminate("q-5", "stop")
    await h.rt.wait_idle()

    everything, token = await h.rt.query(QueryFilter())
    assert token is None
    assert [s["instanceId"] for s in everything] == [*ids, "q_special%"]

    by_status, _ = await h.rt.query(
        QueryFilter(runtime_status=frozenset({RuntimeStatus.COMPLETED, RuntimeStatus.TERMINATED}))
    )
    assert [s["instanceId"] for s in by_status] == ["q-1", "q-3", "q-5", "q_special%"]

    start = h.clock.now() - timedelta(minutes=7)  # creation of q-0 is 2026-01-01T00:00
    window = QueryFilter(
        created_time_from=start + timedelta(minutes=2),
        created_time_to=start + timedelta(minutes=4),
    )
    assert [s["instanceId"] for s in (await h.rt.query(window))[0]] == ["q-2", "q-3", "q-4"]

    assert [
        s["instanceId"] for s in (await h.rt.query(QueryFilter(instance_id_prefix="q_")))[0]
    ] == ["q_special%"]
    assert len((await h.rt.query(QueryFilter(instance_id_prefix="q-")))[0]) == 7

    seen: list[str] = []
    continuation: str | None = None
    pages = 0
    while True:
        page, continuation = await h.rt.query(QueryFilter(), page_size=3, continuation=continuation)
        pages += 1
        seen += [s["instanceId"] for s in page]
        assert len(page) <= 3
        if continuation is None:
            break
    assert pages == 3
    assert seen == [*ids, "q_special%"]

    first, token = await h.rt.query(QueryFilter(), page_size=2, show_input=False)
    assert token is not None and all(s["input"] is None for s in first)
    assert "historyEvents" not in first[0]


async def test_query_rejects_bad_arguments(h: Harness) -> None:
    with pytest.raises(BadRequest):
        await h.rt.query(QueryFilter(), page_size=0)
    with pytest.raises(BadRequest) as raised:
        await h.rt.query(QueryFilter(), continuation="not-a-token!")
    assert raised.value.http_status == 400


async def test_purge_and_purge_by(h: Harness) -> None:
    done = await h.run("chain", "p", "purge-me")
    await h.run("waiter", None, "running")
    h.clock.advance(timedelta(hours=1))
    await h.run("plain", 1, "late")
    assert await h.rt.purge(done) == 1
    with pytest.raises(InstanceNotFound):
        await h.rt.get_status(done)
    with pytest.raises(InstanceNotFound) as raised:
        await h.rt.purge(done)
    assert raised.value.http_status == 404
    assert h.rt.store.load_history(done) == []
    # purged ids can be started again from scratch
    await h.run("plain", 2, done)
    assert (await h.status(done))["output"] == {"plain": 2}

    start = h.clock.now() - timedelta(hours=1)
    early_completed = QueryFilter(
        created_time_from=start,
        created_time_to=start + timedelta(minutes=30),
        runtime_status=frozenset({RuntimeStatus.COMPLETED}),
    )
    assert await h.rt.purge_by(early_completed) == 0
    late_completed = QueryFilter(
        created_time_from=start + timedelta(minutes=30),
        runtime_status=frozenset({RuntimeStatus.COMPLETED}),
    )
    assert await h.rt.purge_by(late_completed) == 2  # "late" and the restarted "purge-me"
    remaining, _ = await h.rt.query(QueryFilter())
    assert [s["instanceId"] for s in remaining] == ["running"]


async def test_purged_running_instance_drops_its_work(h: Harness) -> None:
    iid = await h.run("sleeper", 60, "gone-soon")
    assert await h.rt.purge(iid) == 1
    await h.advance(timedelta(minutes=5))
    with pytest.raises(InstanceNotFound):
        await h.rt.get_status(iid)
    assert h.rt.store.next_visible_at(h.clock.now()) is None


# -- late messages, suspension edge cases, rewinding children ------------------------------------
async def test_late_activity_result_does_not_touch_a_terminated_instance(h: Harness) -> None:
    iid = await h.start("suspendable", "late", "late-1")
    await h.rt.wait_for_status(iid, RuntimeStatus.RUNNING)
    await h.rt.terminate(iid, "stop")
    await h.rt.wait_for_status(iid, RuntimeStatus.TERMINATED)
    before = await h.status(iid, show_history=True)
    h.clock.advance(timedelta(minutes=1))
    runtime_app.ACTIVITY_GATES.setdefault("late", threading.Event()).set()  # it finishes now
    await h.rt.wait_idle()
    after = await h.status(iid, show_history=True)
    # the result is discarded: same status, output, history and lastUpdatedTime
    assert after == before
    assert after["lastUpdatedTime"] == "2026-01-01T00:00:00Z"


async def test_terminate_a_suspended_instance(h: Harness) -> None:
    iid = await h.run("waiter", None, "susp-term")
    await h.rt.suspend(iid)
    await h.rt.wait_idle()
    await h.rt.raise_event(iid, "E", 1)
    await h.rt.terminate(iid, "over")
    await h.rt.wait_idle()
    status = await h.status(iid)
    assert (status["runtimeStatus"], status["output"]) == ("Terminated", "over")


async def test_suspend_before_the_first_episode(h: Harness) -> None:
    iid = await h.start("waiter", None, "susp-early")
    await h.rt.suspend(iid, "early")
    await h.rt.wait_idle()
    status = await h.status(iid)
    assert status["runtimeStatus"] == "Suspended"
    assert status["customStatus"] is None  # the orchestrator has not run
    # the history still opens as the host's does: OrchestratorStarted, ExecutionStarted
    assert h.types(iid)[:3] == [
        ET.ORCHESTRATOR_STARTED,
        ET.EXECUTION_STARTED,
        ET.EXECUTION_SUSPENDED,
    ]
    await h.rt.resume(iid)
    await h.rt.wait_idle()
    assert (await h.status(iid))["customStatus"] == {"stage": "waiting"}
    await h.rt.raise_event(iid, "E", "late")
    await h.rt.wait_idle()
    status = await h.status(iid)
    assert (status["runtimeStatus"], status["output"]) == ("Completed", "late")


async def test_rewind_rewinds_failed_children(h: Harness) -> None:
    iid = await h.run("parent", {"mode": "flaky", "key": "child:2", "child_id": "fk"}, "rw-p")
    assert (await h.status(iid))["runtimeStatus"] == "Failed"
    assert (await h.status("fk"))["runtimeStatus"] == "Failed"
    await h.rt.rewind(iid, "again")
    await h.rt.wait_idle()
    for instance in (iid, "fk"):
        status = await h.status(instance)
        assert status["runtimeStatus"] == "Completed", instance
        assert status["output"] == {"key": "child:2", "attempts": 2}
    assert runtime_app.CALLS["flaky:child:2"] == 2
