"""Orchestration versioning as the extension serves it to SDK 1.7: host.json ``defaultVersion``
reaches ``context.version``, a version given on start or on a sub-orchestration wins, the
version survives a redeploy (stop, change defaultVersion, start) and a restart, and a worker
runs only the versions ``versionMatchStrategy`` allows (``versionFailureStrategy``)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from durable_local.functions.settings import LoaderError
from durable_local.host import FunctionsHost, HostOptions
from durable_local.model import RuntimeStatus
from durable_local.model.versions import VersionMatch, compare_versions, version_runs
from durable_local.runtime.clock import ManualClock
from durable_local.testing import DurableTestHost
from tests.fixture_apps import VERSIONING_APP
from tests.helpers.apps import loaded_app

WAITING = "waiting for Continue"


def set_default_version(app_dir: Path, version: str, **more: str) -> None:
    host_json = json.loads((app_dir / "host.json").read_text())
    host_json["extensions"]["durableTask"].update({"defaultVersion": version, **more})
    (app_dir / "host.json").write_text(json.dumps(host_json))


async def run_to_the_end(host: DurableTestHost, instance_id: str) -> Any:
    await host.wait_idle()
    assert host.custom_status(instance_id) == WAITING
    await host.client.raise_event(instance_id, "Continue", None)
    return (await host.wait_for_status(instance_id, RuntimeStatus.COMPLETED)).output


async def test_the_default_version_reaches_context_version_and_sub_orchestrations() -> None:
    async with DurableTestHost(VERSIONING_APP) as host:
        instance_id = await host.client.start_new("versioned")
        assert await run_to_the_end(host, instance_id) == [
            "Orchestration version: 1.0",
            "Suborchestration version (explicit): 0.9",
            "Suborchestration version (default): 1.0",
            "Hello from A!",
        ]
        started = next(e for e in host.history(instance_id) if e.type == "ExecutionStarted")
        assert started.raw["Version"] == "1.0"


async def test_the_sample_s_redeploy_keeps_an_instance_s_version(tmp_path: Path) -> None:
    app_dir = tmp_path / "app"
    shutil.copytree(VERSIONING_APP, app_dir)
    store = str(tmp_path / "durable.db")
    clock = ManualClock()
    with loaded_app(app_dir) as loaded:
        before = FunctionsHost(loaded, HostOptions(store=store, clock=clock, in_process=True))
        await before.serve()
        old = await before.runtime.start_new("versioned")
        await before.runtime.wait_for_status(old, RuntimeStatus.RUNNING)
        await before.runtime.wait_idle()
        await before.close()

    set_default_version(app_dir, "2.0")  # the redeploy
    with loaded_app(app_dir) as loaded:
        after = FunctionsHost(loaded, HostOptions(store=store, clock=clock, in_process=True))
        await after.serve()
        try:
            await after.runtime.raise_event(old, "Continue", None)
            done = await after.runtime.wait_for_status(old, RuntimeStatus.COMPLETED)
            assert done["output"] == [
                "Orchestration version: 1.0",  # created before the change: the old path
                "Suborchestration version (explicit): 0.9",
                "Suborchestration version (default): 2.0",  # created after it
                "Hello from A!",
            ]
            new = await after.runtime.start_new("versioned")
            await after.runtime.wait_idle()
            await after.runtime.raise_event(new, "Continue", None)
            fresh = await after.runtime.wait_for_status(new, RuntimeStatus.COMPLETED)
            assert fresh["output"] == [
                "Orchestration version: 2.0",
                "Suborchestration version (explicit): 0.9",
                "Suborchestration version (default): 2.0",
                "Hello from B!",
            ]
        finally:
            await after.close()


async def test_a_version_given_on_start_wins_over_the_default_also_over_http() -> None:
    async with DurableTestHost(VERSIONING_APP) as host:
        through_client = await host.client.start_new("versioned", version="0.5")
        output = await run_to_the_end(host, through_client)
        assert output[0] == "Orchestration version: 0.5"
        assert output[3] == "Hello from B!"  # not the 1.0 path

        response = await host.http.post(
            "/runtime/webhooks/durabletask/orchestrators/versioned?version=0.8"
        )
        assert response.status == 202
        through_http = (await response.json())["id"]
        assert (await run_to_the_end(host, through_http))[0] == "Orchestration version: 0.8"


async def test_a_restart_keeps_the_version() -> None:
    async with DurableTestHost(VERSIONING_APP) as host:
        first = await host.client.start_new("versioned", version="0.7")
        await run_to_the_end(host, first)
        again = await host.runtime.restart(first, restart_with_new_instance_id=True)
        assert (await run_to_the_end(host, again))[0] == "Orchestration version: 0.7"


async def test_a_newer_version_waits_for_a_worker_that_runs_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with DurableTestHost(VERSIONING_APP) as host:
        newer = await host.client.start_new("versioned", version="3.0")
        await host.wait_idle()
        status = host.status(newer)
        assert status.runtime_status == RuntimeStatus.PENDING  # CurrentOrOlder, Reject
        assert "does not match this worker's version '1.0'" in caplog.text
        older = await host.client.start_new("versioned", version="0.1")
        await host.wait_idle()
        assert host.custom_status(older) == WAITING  # older versions still run


async def test_with_fail_a_version_this_worker_does_not_run_fails(tmp_path: Path) -> None:
    app_dir = tmp_path / "app"
    shutil.copytree(VERSIONING_APP, app_dir)
    set_default_version(
        app_dir, "1.0", versionMatchStrategy="Strict", versionFailureStrategy="Fail"
    )
    async with DurableTestHost(app_dir) as host:
        older = await host.client.start_new("versioned", version="0.9")
        status = await host.wait_for_status(older, RuntimeStatus.FAILED)
        assert "'0.9' does not match this worker's version '1.0'" in str(status.output)
        assert "versionMatchStrategy Strict" in str(status.output)


def test_an_unknown_strategy_stops_the_load(tmp_path: Path) -> None:
    app_dir = tmp_path / "app"
    shutil.copytree(VERSIONING_APP, app_dir)
    set_default_version(app_dir, "1.0", versionMatchStrategy="Newest")
    with (
        pytest.raises(LoaderError, match="versionMatchStrategy must be one of"),
        loaded_app(app_dir),
    ):
        pass


@pytest.mark.parametrize(
    ("left", "right", "order"),
    [
        ("", None, 0),
        ("", "1.0", -1),
        ("1.0", "", 1),
        ("1.0", "1.0.0", -1),  # a missing part counts below zero (System.Version)
        ("1.10", "1.9", 1),
        ("2", "10", 1),  # not System.Version: text
        ("V1", "v1", 0),
        ("2025-01-01", "2025-02-01", -1),
    ],
)
def test_versions_compare_as_the_extension_compares_them(
    left: str, right: str | None, order: int
) -> None:
    assert compare_versions(left, right) == order


def test_which_versions_a_worker_runs() -> None:
    assert version_runs("0.9", "1.0", VersionMatch.CURRENT_OR_OLDER)
    assert not version_runs("1.1", "1.0", VersionMatch.CURRENT_OR_OLDER)
    assert not version_runs("0.9", "1.0", VersionMatch.STRICT)
    assert version_runs("7", "1.0", VersionMatch.NONE)
    assert version_runs("7", "", VersionMatch.STRICT)  # no defaultVersion: no check
