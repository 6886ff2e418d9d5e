"""The composition root (durable_local.host): one runtime per store, and the port bound before
the runtime touches the store's leases."""

from __future__ import annotations

import json
import os
import socket
from datetime import UTC, datetime
from pathlib import Path

import pytest

from durable_local.engine import events as ev
from durable_local.functions.loader import LoadedApp
from durable_local.host import FunctionsHost, HostOptions
from durable_local.model import InstanceRecord, RuntimeStatus
from durable_local.store.lock import StoreInUse
from durable_local.store.sqlite import SqliteStore


def leased_instance(path: Path) -> None:
    """A store whose one instance is leased, as a runtime that is still serving it leaves it."""
    store = SqliteStore(path)
    now = datetime.now(UTC)
    record = InstanceRecord(
        instance_id="in-flight",
        name="hello_sequence",
        execution_id="e1",
        status=RuntimeStatus.PENDING,
        input_json=json.dumps("x"),
        created=now,
        updated=now,
    )
    store.create_instance(
        record,
        ev.new_execution_started(
            now, instance_id="in-flight", execution_id="e1", name="hello_sequence", input_json="1"
        ),
    )
    assert store.claim_orchestration("the-first-runtime", now, 3600.0) is not None
    store.close()


def still_leased(path: Path) -> bool:
    store = SqliteStore(path)
    try:
        return store.claim_orchestration("someone-else", datetime.now(UTC), 60.0) is None
    finally:
        store.close()


async def test_a_second_host_on_the_same_store_fails_at_once_and_changes_nothing(
    basic_app: LoadedApp, tmp_path: Path
) -> None:
    path = tmp_path / "hub.db"
    leased_instance(path)
    options = HostOptions(store=str(path), in_process=True)
    first = FunctionsHost(basic_app, options)
    try:
        with pytest.raises(StoreInUse) as raised:
            FunctionsHost(basic_app, options)
        message = str(raised.value)
        assert str(path) in message
        assert f"pid {os.getpid()}" in message
        assert still_leased(path)
    finally:
        await first.close()

    # Closed: the store is free again.
    await FunctionsHost(basic_app, options).close()


async def test_a_port_in_use_fails_before_the_runtime_releases_any_lease(
    basic_app: LoadedApp, tmp_path: Path
) -> None:
    path = tmp_path / "hub.db"
    leased_instance(path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        host = FunctionsHost(basic_app, HostOptions(store=str(path), in_process=True))
        try:
            with pytest.raises(OSError):
                await host.serve("127.0.0.1", taken.getsockname()[1])
        finally:
            await host.close()

    assert still_leased(path)


async def test_serve_binds_every_address_of_a_name_on_one_port(basic_app: LoadedApp) -> None:
    host = FunctionsHost(basic_app, HostOptions(in_process=True))
    try:
        base = await host.serve("localhost", 0)
        port = int(base.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass
    finally:
        await host.close()
