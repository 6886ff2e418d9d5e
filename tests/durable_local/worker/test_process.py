"""The process worker (durable_local.worker): user code in a child process.

Through real code only: ``ProcessWorker`` spawns ``python -m durable_local.worker`` on the app in
``tests/fixture_apps/worker_app/``, which the test process also loads (the dispatcher needs the
host's registry). What is checked is what a user would notice: where code runs, what comes back,
that a crashed worker is restarted and its activities run again, that a broken app is reported at
start, that stopping does not wait for user code, and that the runtime runs on either worker.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from pathlib import Path
from typing import Any

import pytest

from durable_local.engine.orchestration.payload import parse_sdk_output
from durable_local.functions.loader import LoadedApp
from durable_local.model import RuntimeStatus
from durable_local.runtime.client import DurableRuntime
from durable_local.runtime.clock import SystemClock
from durable_local.store.sqlite import SqliteStore
from durable_local.worker.inprocess import InProcessWorker
from durable_local.worker.invoke import ActivityCall
from durable_local.worker.process import ProcessWorker
from durable_local.worker.protocol import LanguageWorker, WorkerCrash, WorkerError
from tests.fixture_apps import WORKER_APP
from tests.helpers.worker import WAIT, Outcomes, first_episode, orchestrator, wait_until_gone

pytestmark = pytest.mark.timeout(60)


# --------------------------------------------------------------------------------------------
# ProcessWorker on its own
# --------------------------------------------------------------------------------------------


async def test_user_code_runs_in_the_child_process(
    process_worker: tuple[ProcessWorker, Outcomes],
) -> None:
    worker, outcomes = process_worker
    assert worker.pid is not None and worker.pid != os.getpid()
    assert not worker.shares_host_process

    worker.submit_activities([ActivityCall(1, "whoami", None)])

    [outcome] = await outcomes.wait_for(1)
    assert outcome.failure is None
    assert outcome.result_json == str(worker.pid)


async def test_activity_results_and_failures_come_back_as_the_extension_records_them(
    process_worker: tuple[ProcessWorker, Outcomes],
) -> None:
    worker, outcomes = process_worker

    worker.submit_activities(
        [
            ActivityCall(1, "double", "21"),
            ActivityCall(2, "async_double", "5"),
            ActivityCall(3, "echo", '{"b": [1, 2],  "a": null}'),
            ActivityCall(4, "boom", '"bad input"'),
            ActivityCall(5, "no_such_activity", "1"),
        ]
    )

    sync, coroutine, echoed, failed, missing = await outcomes.wait_for(1, 2, 3, 4, 5)
    assert (sync.result_json, sync.failure) == ("42", None)
    assert (coroutine.result_json, coroutine.failure) == ("10", None)
    assert echoed.result_json == '{"b":[1,2],"a":null}'  # compact, as the extension stores it

    assert failed.result_json is None and failed.failure is not None
    reason, details = failed.failure
    assert reason.startswith("Activity function 'boom' failed:")
    assert "ValueError: bad input" in reason
    assert json.loads(details)["RemoteTypeName"] == "ValueError"

    assert missing.failure is not None
    assert missing.failure[0] == (
        "The function 'no_such_activity' doesn't exist, is disabled, or is not an activity "
        "function."
    )


async def test_an_orchestrator_call_returns_the_sdk_state(
    process_worker: tuple[ProcessWorker, Outcomes], loaded: LoadedApp
) -> None:
    worker, _ = process_worker
    chain = orchestrator(loaded, "chain")

    result = await worker.call_orchestrator(chain, first_episode("chain", 3))

    assert result.error is None and result.returned is not None
    assert result.seconds > 0
    state = parse_sdk_output(result.returned, result.error)
    assert not state.is_done
    # The SDK's first action: call `double` with the input's JSON text.
    assert [(a["functionName"], a["input"]) for a in state.actions] == [("double", "3")]


async def test_concurrent_orchestrator_calls_each_get_their_own_answer(
    process_worker: tuple[ProcessWorker, Outcomes], loaded: LoadedApp
) -> None:
    worker, _ = process_worker
    fan = orchestrator(loaded, "fan")

    results = await asyncio.gather(
        *(worker.call_orchestrator(fan, first_episode("fan", n, f"fan-{n}")) for n in range(1, 9))
    )

    for n, result in enumerate(results, start=1):
        state = parse_sdk_output(result.returned, result.error)
        [task_all] = state.actions
        assert [a["input"] for a in task_all["compoundActions"]] == [str(i) for i in range(n)]


async def test_payloads_larger_than_the_socket_buffer_cross_both_ways(
    process_worker: tuple[ProcessWorker, Outcomes], loaded: LoadedApp
) -> None:
    worker, outcomes = process_worker
    big = "x" * 3_000_000  # megabytes: the host reads it in pieces, as the worker writes it

    worker.submit_activities([ActivityCall(1, "echo", json.dumps(big))])
    fan = orchestrator(loaded, "fan")
    result = await worker.call_orchestrator(fan, first_episode("fan", 20_000, "fan-big"))

    [echoed] = await outcomes.wait_for(1)
    assert echoed.result_json == json.dumps(big)
    state = parse_sdk_output(result.returned, result.error)
    assert len(state.actions[0]["compoundActions"]) == 20_000


async def test_thousands_of_activities_each_give_one_outcome(
    process_worker: tuple[ProcessWorker, Outcomes],
) -> None:
    worker, outcomes = process_worker
    keys = range(1, 3001)

    for start in range(1, 3001, 500):  # several requests, as the dispatcher refills its window
        worker.submit_activities(
            [ActivityCall(key, "double", str(key)) for key in range(start, start + 500)]
        )

    results = await outcomes.wait_for(*keys)
    assert [outcome.result_json for outcome in results] == [str(2 * key) for key in keys]
    assert len(outcomes.by_key) == 3000  # none twice (Outcomes checks), none extra


async def test_a_broken_app_fails_start_with_the_reason(tmp_path: Path) -> None:
    (tmp_path / "host.json").write_text('{"version": "2.0"}')
    (tmp_path / "function_app.py").write_text(
        "raise RuntimeError('the settings service is unreachable')\n"
    )
    worker = ProcessWorker(str(tmp_path))

    with pytest.raises(WorkerError) as raised:
        await worker.start(Outcomes())

    message = str(raised.value)
    assert "cannot load the app" in message
    assert "function_app.py" in message
    assert "RuntimeError: the settings service is unreachable" in message
    assert worker.pid is None
    await worker.stop()  # nothing to stop, and no error


async def test_a_directory_without_an_app_fails_start(tmp_path: Path) -> None:
    worker = ProcessWorker(str(tmp_path))

    with pytest.raises(WorkerError, match=r"No function_app\.py in"):
        await worker.start(Outcomes())


async def test_stop_does_not_wait_for_running_user_code(
    process_worker: tuple[ProcessWorker, Outcomes], loaded: LoadedApp
) -> None:
    worker, outcomes = process_worker
    pid = worker.pid
    assert pid is not None
    stall = orchestrator(loaded, "stall")
    worker.submit_activities(
        [ActivityCall(1, "sleepy", "30"), ActivityCall(2, "async_sleepy", "30")]
    )
    episode = asyncio.ensure_future(worker.call_orchestrator(stall, first_episode("stall", 30)))
    worker.submit_activities([ActivityCall(3, "whoami", None)])
    await outcomes.wait_for(3)  # the child is serving; the sleepers have been picked up
    await asyncio.sleep(0.2)

    began = time.monotonic()
    await worker.stop()
    took = time.monotonic() - began

    assert took < 2.0, f"stop() took {took:.1f} s"
    with pytest.raises(WorkerError, match="stopped"):
        await episode
    await wait_until_gone(pid)
    assert set(outcomes.by_key) == {3}  # abandoned calls deliver nothing


# --------------------------------------------------------------------------------------------
# A worker that dies
# --------------------------------------------------------------------------------------------


async def test_a_dead_worker_fails_its_episodes_and_reruns_its_activities(
    process_worker: tuple[ProcessWorker, Outcomes],
    loaded: LoadedApp,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    worker, outcomes = process_worker
    first_pid = worker.pid
    assert first_pid is not None
    stall = orchestrator(loaded, "stall")
    marker = tmp_path / "died"
    episode = asyncio.ensure_future(worker.call_orchestrator(stall, first_episode("stall", 30)))
    await asyncio.sleep(0.1)  # the episode is running in the child

    with caplog.at_level(logging.ERROR, logger="durable_local.worker"):
        worker.submit_activities(
            [ActivityCall(1, "die_once", json.dumps(str(marker))), ActivityCall(2, "double", "4")]
        )
        with pytest.raises(WorkerError, match=r"exited \(code 3\)"):
            await asyncio.wait_for(episode, WAIT)
        worker.submit_activities([ActivityCall(3, "double", "5")])  # while it is restarting
        died, doubled, later = await outcomes.wait_for(1, 2, 3)

    assert marker.read_text() == str(first_pid)  # the first run was in the first child
    assert died.result_json == '"survived"'  # run again in the restarted one
    assert doubled.result_json == "8"
    assert later.result_json == "10"
    assert worker.restarts == 1
    assert worker.pid is not None and worker.pid not in (first_pid, os.getpid())
    await wait_until_gone(first_pid)
    assert "the worker process exited (code 3)" in caplog.text

    # The restarted worker serves as the first one did.
    chain = orchestrator(loaded, "chain")
    result = await worker.call_orchestrator(chain, first_episode("chain", 1))
    assert parse_sdk_output(result.returned, result.error).actions[0]["functionName"] == "double"


async def test_a_crash_gives_back_what_the_worker_held_and_names_what_was_running(
    loaded: LoadedApp, tmp_path: Path
) -> None:
    worker = ProcessWorker(str(WORKER_APP), max_activities=2, restart_delay=0.1)
    outcomes = Outcomes()
    crashes: list[WorkerCrash] = []
    await worker.start(outcomes, crashes.append)
    try:
        worker.submit_activities([ActivityCall(1, "sleepy", "30")])
        await asyncio.sleep(0.3)  # running in one of the two activity threads
        worker.submit_activities(
            [
                ActivityCall(2, "die_once", json.dumps(str(tmp_path / "died"))),
                ActivityCall(3, "double", "1"),  # both threads are busy: these wait
                ActivityCall(4, "double", "2"),
            ]
        )
        async with asyncio.timeout(WAIT):
            while not crashes:
                await asyncio.sleep(0.01)
        [crash] = crashes
        assert crash.exit == "the worker process exited (code 3)"
        assert sorted(call.key for call in crash.lost) == [1, 2, 3, 4]
        assert crash.running == {1, 2}  # charged to these two only
        assert not crash.alone(2)

        # Given back: the successor runs nothing by itself, only what is submitted again.
        worker.submit_activities([ActivityCall(5, "double", "5")])
        [later] = await outcomes.wait_for(5)
        assert later.result_json == "10"
        assert set(outcomes.by_key) == {5}
    finally:
        await worker.stop()


async def test_cancelled_activities_never_run_and_give_no_outcome(
    process_worker: tuple[ProcessWorker, Outcomes], tmp_path: Path
) -> None:
    worker, outcomes = process_worker
    marker = tmp_path / "died"
    worker.submit_activities([ActivityCall(n, "sleepy", "0.5") for n in range(1, 5)])
    worker.submit_activities([ActivityCall(5, "die_once", json.dumps(str(marker)))])

    worker.cancel_activities([5])  # queued behind the four sleepers: never started
    worker.submit_activities([ActivityCall(6, "double", "3")])

    await outcomes.wait_for(1, 2, 3, 4, 6)
    assert not marker.exists() and worker.restarts == 0
    assert 5 not in outcomes.by_key


async def test_stop_during_a_restart_fails_the_calls_waiting_for_it(
    process_worker: tuple[ProcessWorker, Outcomes],
    loaded: LoadedApp,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    worker, outcomes = process_worker
    worker.restart_delay = 30.0  # the restart will not happen during the test
    chain = orchestrator(loaded, "chain")
    with caplog.at_level(logging.ERROR, logger="durable_local.worker"):
        worker.submit_activities([ActivityCall(1, "die_once", json.dumps(str(tmp_path / "d")))])
        async with asyncio.timeout(WAIT):
            while "restarting it" not in caplog.text:  # the host has seen the child die
                await asyncio.sleep(0.01)
    # A call made now waits for the restarted worker.
    episode = asyncio.ensure_future(worker.call_orchestrator(chain, first_episode("chain", 1)))
    await asyncio.sleep(0.05)

    await worker.stop()

    with pytest.raises(WorkerError, match="stopped"):
        await asyncio.wait_for(episode, 2.0)
    assert worker.restarts == 0 and not outcomes.by_key


# --------------------------------------------------------------------------------------------
# Through the runtime
# --------------------------------------------------------------------------------------------


def make_runtime(loaded: LoadedApp, worker: LanguageWorker) -> DurableRuntime:
    return DurableRuntime(
        loaded.registry,
        SqliteStore(":memory:"),
        SystemClock(),
        max_concurrent_activities=4,
        max_concurrent_orchestrations=4,
        app_dir=str(loaded.app_dir),
        worker=worker,
    )


async def run(runtime: DurableRuntime, name: str, value: Any) -> dict[str, Any]:
    """Start as the SDK client does (the input as its JSON text) and wait for the end."""
    instance_id = await runtime.start_new(name, json.dumps(value))
    return await runtime.wait_for_status(instance_id, timeout=WAIT)


@pytest.mark.parametrize("in_process", [False, True], ids=["process", "in-process"])
async def test_the_runtime_runs_chains_and_fan_outs_on_either_worker(
    loaded: LoadedApp, in_process: bool
) -> None:
    worker: LanguageWorker = (
        InProcessWorker(loaded.registry, max_activities=4, app_dir=str(loaded.app_dir))
        if in_process
        else ProcessWorker(str(loaded.app_dir), max_activities=4)
    )
    async with make_runtime(loaded, worker) as runtime:
        chained, fanned = await asyncio.gather(run(runtime, "chain", 3), run(runtime, "fan", 20))

        assert chained["runtimeStatus"] == RuntimeStatus.COMPLETED.value
        assert chained["output"] == [6, 12, 24]
        assert fanned["runtimeStatus"] == RuntimeStatus.COMPLETED.value
        assert fanned["output"] == {"values": [2 * i for i in range(20)], "sum": 380}
        assert runtime.dispatcher.orchestrator_seconds > 0
        assert runtime.dispatcher.activities_run == 3 + 20


async def test_an_orchestration_survives_a_worker_crash(
    loaded: LoadedApp, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    worker = ProcessWorker(str(loaded.app_dir), restart_delay=0.1)
    marker = tmp_path / "died"
    with caplog.at_level(logging.ERROR, logger="durable_local.worker"):
        async with make_runtime(loaded, worker) as runtime:
            first_pid = worker.pid

            status = await run(runtime, "crashy", str(marker))

    assert status["runtimeStatus"] == RuntimeStatus.COMPLETED.value
    output = status["output"]
    assert output["before"] == first_pid
    assert output["result"] == "survived"
    assert output["after"] == worker.pid != first_pid
    assert marker.read_text() == str(first_pid)
    assert worker.restarts == 1
    assert "the worker process exited (code 3)" in caplog.text
