"""Storage failures are loud and recoverable: a store deleted while running makes every request
a 503 with the reason; a failed commit releases its lease and is retried after a short backoff,
logged once; a filesystem that fills up in the middle of a workload refuses work while it is
full and finishes every instance, each activity recorded once, when space returns."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import logging
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from durable_local.engine.commit import EpisodeCommit
from durable_local.functions.loader import LoadedApp
from durable_local.host import FunctionsHost, HostOptions
from durable_local.model import RuntimeStatus
from durable_local.model.errors import StoreUnavailable
from durable_local.runtime.client import DurableRuntime
from durable_local.runtime.clock import SystemClock
from durable_local.store.base import ActivityWorkItem, OrchestrationWorkItem
from durable_local.store.sqlite import SqliteStore
from tests.fixture_apps import BASIC_APP, POISON_APP
from tests.helpers.apps import AppLoader

pytestmark = pytest.mark.timeout(180)

WAIT = 60.0


@pytest.fixture
def poison(app_loader: AppLoader) -> LoadedApp:
    return app_loader(POISON_APP)


def steady_output(n: int) -> list[int]:
    return [8 * n, 12]


# --------------------------------------------------------------------------------------------
# A store deleted while running
# --------------------------------------------------------------------------------------------


async def test_a_store_deleted_while_running_refuses_every_request_with_the_reason(
    aiohttp_client: Any,
    app_loader: AppLoader,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    path = tmp_path / "hub.db"
    host = FunctionsHost(app_loader(BASIC_APP), HostOptions(store=str(path), in_process=True))
    client = await aiohttp_client(host.app)
    start = "/runtime/webhooks/durabletask/orchestrators/wait_approval"
    async with client.post(start, json=1) as response:
        assert response.status == 202
        links = await response.json()

    for name in os.listdir(tmp_path):
        if name.startswith("hub.db") and not name.endswith(".lock"):
            os.unlink(tmp_path / name)

    with caplog.at_level(logging.ERROR, logger="durable_local.store"):
        for method, url in [
            ("POST", start),
            ("GET", links["statusQueryGetUri"].split("://", 1)[1].split("/", 1)[1]),
            ("POST", "/api/orchestrators/hello_sequence"),
            ("GET", "/admin/host/status"),
            ("GET", "/durabletask/instances"),
        ]:
            async with client.request(method, "/" + url.lstrip("/"), json="x") as response:
                assert response.status == 503, url
                body = await response.json()
                assert (
                    "was deleted or replaced while durable-local was running"
                    in (body["ExceptionMessage"])
                )
                assert str(path) in body["ExceptionMessage"]
    assert caplog.text.count("was deleted or replaced") == 1  # said once, in the log


# --------------------------------------------------------------------------------------------
# Failed commits
# --------------------------------------------------------------------------------------------


class FailingStore(SqliteStore):
    """A store whose first ``failures`` commits (and the release after the first) fail, as a
    full disk makes them fail."""

    def __init__(self, failures: int) -> None:
        super().__init__(":memory:")
        self.failures = failures
        self.failed_releases = 1
        self.commits_failed = 0

    def commit_episode(
        self, item: OrchestrationWorkItem, commit: EpisodeCommit
    ) -> list[ActivityWorkItem]:
        if self.commits_failed < self.failures:
            self.commits_failed += 1
            raise StoreUnavailable("the store cannot be written: database or disk is full")
        return super().commit_episode(item, commit)

    def release_orchestration(self, item: OrchestrationWorkItem) -> None:
        if self.failed_releases:
            self.failed_releases -= 1
            raise StoreUnavailable("the store cannot be written: database or disk is full")
        super().release_orchestration(item)


async def test_a_failed_commit_releases_its_lease_and_is_retried_logged_once(
    poison: LoadedApp, caplog: pytest.LogCaptureFixture
) -> None:
    store = FailingStore(failures=4)
    with caplog.at_level(logging.WARNING, logger="durable_local.dispatcher"):
        async with DurableRuntime(poison.registry, store, SystemClock()) as runtime:
            instance_id = await runtime.start_new("steady", json.dumps(2))
            status = await runtime.wait_for_status(instance_id, timeout=WAIT)

    assert status["runtimeStatus"] == RuntimeStatus.COMPLETED.value
    assert status["output"] == steady_output(2)
    assert store.commits_failed == 4 and store.failed_releases == 0
    assert caplog.text.count(f"episode of instance '{instance_id}' failed") == 1
    assert caplog.text.count(f"instance '{instance_id}' committed again after failures") == 1


# --------------------------------------------------------------------------------------------
# A filesystem that fills up in the middle of a workload
# --------------------------------------------------------------------------------------------


@contextlib.contextmanager
def small_filesystem(where: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` mounted at ``where`` (skips the test where mounting is not
    permitted)."""
    where.mkdir()
    mount = shutil.which("mount")
    if mount is None or os.geteuid() != 0:
        pytest.skip("mounting a size-limited tmpfs needs root (and mount): not available here")
    done = subprocess.run(
        [mount, "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"mounting a tmpfs is not permitted here: {done.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(path: Path) -> None:
    """Write ``path`` until the filesystem is full."""
    chunk = b"\0" * 65536
    with path.open("wb", buffering=0) as handle:
        while True:
            try:
                handle.write(chunk)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                if len(chunk) == 1:
                    return
                chunk = chunk[: len(chunk) // 2]


async def test_a_full_disk_mid_workload_refuses_work_then_everything_completes_once(
    poison: LoadedApp, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with small_filesystem(tmp_path / "disk", "8m") as disk:
        store = SqliteStore(disk / "hub.db")
        started: list[tuple[str, int]] = []
        with caplog.at_level(logging.WARNING):
            async with DurableRuntime(poison.registry, store, SystemClock()) as runtime:
                for n in range(1, 101):
                    started.append((await runtime.start_new("steady", json.dumps(n)), n))
                await runtime.wait_for_status(started[0][0], timeout=WAIT)

                fill(disk / "filler")  # while the others run: their commits fail
                async with asyncio.timeout(WAIT):
                    while runtime.problem() is None:
                        await asyncio.sleep(0.01)
                assert "database or disk is full" in (runtime.problem() or "")
                # What every HTTP request now gets (as a 503), a start included.
                with pytest.raises(StoreUnavailable, match="database or disk is full"):
                    await runtime.start_new("steady", json.dumps(101))

                (disk / "filler").unlink()
                async with asyncio.timeout(WAIT):
                    while runtime.problem() is not None:
                        await asyncio.sleep(0.05)
                started.append((await runtime.start_new("steady", json.dumps(101)), 101))

                for instance_id, n in started:
                    status = await runtime.wait_for_status(instance_id, timeout=WAIT)
                    assert status["runtimeStatus"] == RuntimeStatus.COMPLETED.value, status
                    assert status["output"] == steady_output(n)
                await runtime.wait_idle(timeout=WAIT)
                activities = runtime.dispatcher.activities_run
            store.close()

    assert activities == 7 * len(started)  # each activity recorded once
    assert "database or disk is full" in caplog.text
    assert "the store can be written again" in caplog.text
