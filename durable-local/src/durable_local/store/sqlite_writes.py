"""The SQLite store's writes that run inside a caller's transaction: messages, instance rows,
and one episode's whole commit."""

from __future__ import annotations

import sqlite3
import uuid
from typing import Any

from durable_local.engine.commit import EpisodeCommit
from durable_local.engine.events import Event, new_sub_orchestration_failed, played_text
from durable_local.model import TERMINAL_STATUSES, InstanceRecord, RuntimeStatus
from durable_local.model.messages import instance_already_exists
from durable_local.store.base import (
    ActivityWorkItem,
    InstanceExistsError,
    LeaseLost,
    OrchestrationWorkItem,
)
from durable_local.store.queued_events import QueuedEvents
from durable_local.store.sqlite_schema import INSTANCE_COLUMNS, to_micros


def insert_message(
    conn: sqlite3.Connection,
    queued: QueuedEvents,
    instance_id: str,
    event: Event,
    execution_id: str | None,
    visible_at: int,
) -> None:
    conn.execute(
        "INSERT INTO messages (instance_id, execution_id, event, visible_at) VALUES (?, ?, ?, ?)",
        (instance_id, execution_id, queued.encode(event), visible_at),
    )


def delete_instance_rows(conn: sqlite3.Connection, instance_id: str) -> None:
    """An instance's history, messages and activities (not its row)."""
    conn.execute("DELETE FROM history WHERE instance_id = ?", (instance_id,))
    conn.execute("DELETE FROM messages WHERE instance_id = ?", (instance_id,))
    conn.execute("DELETE FROM activities WHERE instance_id = ?", (instance_id,))


def create_instance_rows(
    conn: sqlite3.Connection, queued: QueuedEvents, record: InstanceRecord, start_event: Event
) -> None:
    """Create (or replace a terminal) instance and queue its ExecutionStarted."""
    row = conn.execute(
        "SELECT status, generation FROM instances WHERE instance_id = ?",
        (record.instance_id,),
    ).fetchone()
    generation = 0
    if row is not None:
        status = RuntimeStatus(row[0])
        if status not in TERMINAL_STATUSES:
            raise InstanceExistsError(status)
        generation = row[1] + 1
        delete_instance_rows(conn, record.instance_id)
        conn.execute("DELETE FROM instances WHERE instance_id = ?", (record.instance_id,))
    parent = record.parent
    conn.execute(
        f"INSERT INTO instances ({INSTANCE_COLUMNS}) "
        "VALUES (?, ?, ?, ?, ?, NULL, NULL, NULL, ?, ?, ?, ?, ?, ?, ?, 0)",
        (
            record.instance_id,
            record.name,
            record.execution_id,
            record.status.value,
            record.input_json,
            to_micros(record.created),
            to_micros(record.updated),
            parent.instance_id if parent else None,
            parent.execution_id if parent else None,
            parent.task_id if parent else None,
            parent.name if parent else None,
            generation,
        ),
    )
    insert_message(
        conn,
        queued,
        record.instance_id,
        {**start_event, "Generation": generation},
        record.execution_id,
        to_micros(record.created),
    )


def position_after(item: OrchestrationWorkItem, commit: EpisodeCommit) -> tuple[int, str]:
    """The instance's history length and execution id once ``commit`` is applied."""
    if commit.new_execution_id is not None:
        # ContinueAsNew: the old execution's history is replaced by the new one's.
        return 0, commit.new_execution_id
    return item.instance.history_len + len(commit.appended), item.instance.execution_id


def apply_commit(
    conn: sqlite3.Connection,
    queued: QueuedEvents,
    item: OrchestrationWorkItem,
    commit: EpisodeCommit,
) -> list[ActivityWorkItem]:
    """Apply one episode's commit inside the caller's transaction; the activities it leased.

    Raises LeaseLost (and changes nothing) when the instance is no longer leased to ``item``.
    """
    instance_id = item.instance.instance_id
    updated_us = to_micros(commit.updated)
    history_len, execution_id = position_after(item, commit)
    assignments = [
        "status = ?",
        "updated_at = ?",
        "history_len = ?",
        "execution_id = ?",
        "lock_owner = NULL",
        "lock_until = NULL",
    ]
    values: list[Any] = [commit.status.value, updated_us, history_len, execution_id]
    if commit.custom_status_changed:
        assignments.append("custom_status = ?")
        values.append(commit.custom_status)
    if commit.new_execution_id is not None:
        assignments.append("input = ?")
        values.append(commit.new_input_json)
    if commit.finished:
        assignments += ["output = ?", "failure_details = ?"]
        values += [commit.output, commit.failure_details]
    # The instance row first: updating it only under our lease is the lease check.
    updated = conn.execute(
        f"UPDATE instances SET {', '.join(assignments)} WHERE instance_id = ? AND lock_owner = ?",
        (*values, instance_id, item.lock_token),
    ).rowcount
    if not updated:
        raise LeaseLost(instance_id)
    if commit.consumed:  # by id: cheaper than returning their texts below
        for start in range(0, len(commit.consumed), 500):
            chunk = commit.consumed[start : start + 500]
            conn.execute(
                f"DELETE FROM messages WHERE id IN ({', '.join('?' for _ in chunk)})",
                chunk,
            )
    if commit.appended:
        first = item.instance.history_len
        texts = commit.appended_texts
        if texts is None:
            texts = [played_text(event) for event in commit.appended]
        conn.executemany(
            "INSERT INTO history (instance_id, seq, event) VALUES (?, ?, ?)",
            [(instance_id, first + offset, text) for offset, text in enumerate(texts)],
        )
    if commit.new_execution_id is not None:
        conn.execute("DELETE FROM history WHERE instance_id = ?", (instance_id,))
        assert commit.new_execution_start is not None
        insert_message(
            conn, queued, instance_id, commit.new_execution_start, execution_id, updated_us
        )
    if commit.finished:
        # Terminal instances discard their remaining messages (timers, late events);
        # their texts come back to drop them from the claim cache.
        for (text,) in conn.execute(
            "DELETE FROM messages WHERE instance_id = ? RETURNING event", (instance_id,)
        ).fetchall():
            queued.forget(text)
    if commit.status == RuntimeStatus.TERMINATED:
        # Terminate drops the instance's pending activities: none runs after it took effect.
        conn.execute("DELETE FROM activities WHERE instance_id = ?", (instance_id,))
    leased: list[ActivityWorkItem] = []
    if commit.activities and commit.lease_owner is not None:
        assert commit.lease_until is not None
        leased = insert_leased_activities(
            conn, instance_id, execution_id, commit, commit.lease_owner
        )
    elif commit.activities:
        conn.executemany(
            "INSERT INTO activities (instance_id, execution_id, task_id, name, input) "
            "VALUES (?, ?, ?, ?, ?)",
            [
                (instance_id, execution_id, a.task_id, a.name, a.input_json)
                for a in commit.activities
            ],
        )
    for child in commit.children:
        try:
            create_instance_rows(conn, queued, child.record, child.start_event)
        except InstanceExistsError as exc:
            reason = instance_already_exists(exc.status)
            insert_message(
                conn,
                queued,
                instance_id,
                new_sub_orchestration_failed(commit.updated, child.task_id, reason, reason),
                execution_id,
                updated_us,
            )
    for message in commit.messages:
        visible = to_micros(message.visible_at) if message.visible_at is not None else updated_us
        insert_message(
            conn, queued, message.instance_id, message.event, message.execution_id, visible
        )
    return leased


def insert_leased_activities(
    conn: sqlite3.Connection,
    instance_id: str,
    execution_id: str,
    commit: EpisodeCommit,
    owner: str,
) -> list[ActivityWorkItem]:
    """Insert the episode's activities already leased; their ids come back by RETURNING."""
    assert commit.lease_until is not None
    token = f"{owner}:{uuid.uuid4().hex}"
    lease = (token, to_micros(commit.lease_until))
    ids: dict[int, int] = {}
    for start in range(0, len(commit.activities), 500):
        chunk = commit.activities[start : start + 500]
        rows = ", ".join("(?, ?, ?, ?, ?, ?, ?, 1)" for _ in chunk)
        values = [
            value
            for a in chunk
            for value in (instance_id, execution_id, a.task_id, a.name, a.input_json, *lease)
        ]
        ids.update(
            (task_id, row_id)
            for row_id, task_id in conn.execute(
                "INSERT INTO activities (instance_id, execution_id, task_id, name, input, "
                f"lock_owner, lock_until, dequeue_count) VALUES {rows} RETURNING id, task_id",
                values,
            ).fetchall()
        )
    # Positional: thousands per fan-out, and keywords cost twice as much.
    return [
        ActivityWorkItem(
            ids[a.task_id], instance_id, execution_id, a.task_id, a.name, a.input_json, token, 1
        )
        for a in commit.activities
    ]
