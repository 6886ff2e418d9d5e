"""CPU pinning: the worker process runs on the CPUs it is given; the host keeps one."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from durable_local.functions.loader import LoadedApp
from durable_local.worker.cpus import pinned_to, split_cpus
from durable_local.worker.invoke import ActivityCall
from durable_local.worker.process import ProcessWorker
from tests.fixture_apps import WORKER_APP
from tests.helpers.worker import Outcomes

pytestmark = pytest.mark.timeout(60)


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity"), reason="Linux only")
async def test_the_worker_runs_on_the_cpus_it_is_given(loaded: LoadedApp) -> None:
    cpu = max(os.sched_getaffinity(0))
    worker = ProcessWorker(str(WORKER_APP), cpus={cpu})
    outcomes = Outcomes()
    await worker.start(outcomes)
    try:
        assert worker.pid is not None
        worker.submit_activities([ActivityCall(1, "double", "2")])  # its threads are running
        await outcomes.wait_for(1)
        threads = list(Path(f"/proc/{worker.pid}/task").iterdir())
        assert len(threads) > 3
        assert all(os.sched_getaffinity(int(task.name)) == {cpu} for task in threads)
    finally:
        await worker.stop()


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity"), reason="Linux only")
def test_a_cpu_split_gives_the_host_one_cpu_and_the_worker_the_rest() -> None:
    everything = os.sched_getaffinity(0)
    split = split_cpus()
    if len(everything) < 2:
        assert split is None
        return
    assert split is not None
    assert split.host in everything
    assert split.worker == everything - {split.host}
    with pinned_to(split.host):
        assert os.sched_getaffinity(0) == {split.host}
        assert split_cpus() is None  # one CPU left: nothing to split
    assert os.sched_getaffinity(0) == everything  # given back
