"""SQLite store (WAL): one transaction per state change, leases for crash safety.

Times are stored as integer microseconds since the epoch so that "visible at or before now"
comparisons are exact (a timer must never be seen before its FireAt, spec §2.4).
One runtime process owns a store file at a time; ``release_all_leases`` at start hands the
work of a crashed predecessor back to the queue.
"""

from __future__ import annotations

import base64
import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from durable_local.engine.commit import EpisodeCommit
from durable_local.engine.events import Event, event_json, new_sub_orchestration_failed, played_text
from durable_local.engine.orchestration.plan import Message
from durable_local.model import (
    TERMINAL_STATUSES,
    InstanceRecord,
    ParentLink,
    QueryFilter,
    RuntimeStatus,
)
from durable_local.model.messages import instance_already_exists
from durable_local.store.base import (
    ActivityWorkItem,
    InstanceExistsError,
    LeaseLost,
    OrchestrationWorkItem,
)

# Message ids only order the queue, so they are plain rowids (AUTOINCREMENT's bookkeeping cost
# 30 % of every insert): a reused id is above every id still queued, and an episode deletes the
# ids it claimed only under its lease, which whatever else deletes an instance's messages
# (replacing or purging it) takes away. Activity ids stay AUTOINCREMENT: they also name an
# execution at the worker, across a restart.
SCHEMA = """
CREATE TABLE IF NOT EXISTS instances (
    instance_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    execution_id TEXT NOT NULL,
    status TEXT NOT NULL,
    input TEXT,
    output TEXT,
    custom_status TEXT,
    failure_details TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    parent_instance_id TEXT,
    parent_execution_id TEXT,
    parent_task_id INTEGER,
    parent_name TEXT,
    generation INTEGER NOT NULL DEFAULT 0,
    history_len INTEGER NOT NULL DEFAULT 0,
    lock_owner TEXT,
    lock_until INTEGER
);
CREATE INDEX IF NOT EXISTS instances_by_created ON instances (created_at, instance_id);
CREATE TABLE IF NOT EXISTS history (
    instance_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    event TEXT NOT NULL,
    PRIMARY KEY (instance_id, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY,
    instance_id TEXT NOT NULL,
    execution_id TEXT,
    event TEXT NOT NULL,
    visible_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_by_instance ON messages (instance_id, id);
CREATE INDEX IF NOT EXISTS messages_by_visible ON messages (visible_at, id);
CREATE TABLE IF NOT EXISTS activities (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    instance_id TEXT NOT NULL,
    execution_id TEXT NOT NULL,
    task_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    input TEXT,
    lock_owner TEXT,
    lock_until INTEGER,
    dequeue_count INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS activities_by_lock ON activities (lock_until, id);
"""

_INSTANCE_COLUMNS = (
    "instance_id, name, execution_id, status, input, output, custom_status, failure_details, "
    "created_at, updated_at, parent_instance_id, parent_execution_id, parent_task_id, "
    "parent_name, generation, history_len"
)


def to_micros(value: datetime) -> int:
    delta = value.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(value: int) -> datetime:
    seconds, micros = divmod(value, 1_000_000)
    return datetime.fromtimestamp(seconds, UTC).replace(microsecond=micros)


class SqliteStore:
    """The ``Store`` on one SQLite file (or ``":memory:"``)."""

    def __init__(self, path: str | Path = ":memory:") -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=30
        )
        self._lock = threading.RLock()
        self._next_orphan_sweep = 0.0
        # The events this store queued, by their JSON text: the claim that reads them back
        # takes the event instead of parsing the text again (a fan-in reads thousands).
        self._queued: dict[str, Event] = {}
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute("PRAGMA foreign_keys=OFF")
        self._conn.executescript(SCHEMA)

    # -- plumbing ------------------------------------------------------------------------------
    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @staticmethod
    def _record(row: tuple[Any, ...]) -> InstanceRecord:
        parent = None
        if row[10] is not None:
            parent = ParentLink(
                instance_id=row[10], execution_id=row[11], task_id=row[12], name=row[13]
            )
        return InstanceRecord(
            instance_id=row[0],
            name=row[1],
            execution_id=row[2],
            status=RuntimeStatus(row[3]),
            input_json=row[4],
            output=row[5],
            custom_status=row[6],
            failure_details=row[7],
            created=from_micros(row[8]),
            updated=from_micros(row[9]),
            parent=parent,
            generation=row[14],
            history_len=row[15],
        )

    def _encode(self, event: Event) -> str:
        """The event's queued text; the event is kept for the claim that reads it back."""
        text = event_json(event)
        if len(self._queued) >= QUEUED_EVENTS_KEPT:  # messages never claimed here (purged)
            self._queued.clear()
        self._queued[text] = event
        return text

    def _insert_message(
        self,
        conn: sqlite3.Connection,
        instance_id: str,
        event: Event,
        execution_id: str | None,
        visible_at: int,
    ) -> None:
        conn.execute(
            "INSERT INTO messages (instance_id, execution_id, event, visible_at) "
            "VALUES (?, ?, ?, ?)",
            (instance_id, execution_id, self._encode(event), visible_at),
        )

    def _delete_instance_rows(self, conn: sqlite3.Connection, instance_id: str) -> None:
        conn.execute("DELETE FROM history WHERE instance_id = ?", (instance_id,))
        conn.execute("DELETE FROM messages WHERE instance_id = ?", (instance_id,))
        conn.execute("DELETE FROM activities WHERE instance_id = ?", (instance_id,))

    def _create(self, conn: sqlite3.Connection, record: InstanceRecord, start_event: Event) -> None:
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
            self._delete_instance_rows(conn, record.instance_id)
            conn.execute("DELETE FROM instances WHERE instance_id = ?", (record.instance_id,))
        parent = record.parent
        conn.execute(
            f"INSERT INTO instances ({_INSTANCE_COLUMNS}) "
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
        self._insert_message(
            conn,
            record.instance_id,
            {**start_event, "Generation": generation},
            record.execution_id,
            to_micros(record.created),
        )

    # -- instances -----------------------------------------------------------------------------
    def create_instance(self, record: InstanceRecord, start_event: Event) -> None:
        with self._tx() as conn:
            self._create(conn, record, start_event)

    def get_instance(self, instance_id: str) -> InstanceRecord | None:
        with self._lock:
            row = self._conn.execute(
                f"SELECT {_INSTANCE_COLUMNS} FROM instances WHERE instance_id = ?",
                (instance_id,),
            ).fetchone()
        return None if row is None else self._record(row)

    def load_history(self, instance_id: str, start: int = 0) -> list[str]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT event FROM history WHERE instance_id = ? AND seq >= ? ORDER BY seq",
                (instance_id, start),
            ).fetchall()
        return [row[0] for row in rows]

    def enqueue(
        self,
        instance_id: str,
        event: Event,
        *,
        execution_id: str | None = None,
    ) -> None:
        with self._tx() as conn:
            self._insert_message(conn, instance_id, event, execution_id, VISIBLE_NOW)

    def pending_event_types(self, instance_id: str) -> set[int]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT DISTINCT json_extract(event, '$.EventType') FROM messages "
                "WHERE instance_id = ?",
                (instance_id,),
            ).fetchall()
        return {int(row[0]) for row in rows if row[0] is not None}

    def set_status(self, instance_id: str, status: RuntimeStatus, updated: datetime) -> None:
        with self._tx() as conn:
            conn.execute(
                "UPDATE instances SET status = ?, updated_at = ? WHERE instance_id = ?",
                (status.value, to_micros(updated), instance_id),
            )

    # -- orchestration work --------------------------------------------------------------------
    def claim_orchestration(
        self,
        owner: str,
        now: datetime,
        lease_seconds: float,
        exclude: Collection[str] = (),
    ) -> OrchestrationWorkItem | None:
        now_us = to_micros(now)
        skip = ""
        if exclude:
            skip = f"AND m.instance_id NOT IN ({', '.join('?' for _ in exclude)}) "
        token = f"{owner}:{uuid.uuid4().hex}"
        with self._tx() as conn:
            # One statement finds the instance of the oldest visible message and leases it.
            row = conn.execute(
                "UPDATE instances SET lock_owner = ?, lock_until = ? WHERE instance_id = ("
                "SELECT m.instance_id FROM messages m JOIN instances i "
                "ON i.instance_id = m.instance_id "
                "WHERE m.visible_at <= ? AND (i.lock_until IS NULL OR i.lock_until < ?) "
                f"{skip}"
                f"ORDER BY m.id LIMIT 1) RETURNING {_INSTANCE_COLUMNS}",
                (token, now_us + int(lease_seconds * 1_000_000), now_us, now_us, *exclude),
            ).fetchone()
            if row is None:
                self._drop_orphan_messages(conn, now_us)
                return None
            record = self._record(row)
            instance_id = record.instance_id
            rows = conn.execute(
                "SELECT id, event, execution_id FROM messages "
                "WHERE instance_id = ? AND visible_at <= ? ORDER BY id",
                (instance_id, now_us),
            ).fetchall()
            queued = self._queued
            messages = [
                Message(row[0], queued.pop(row[1], {}) or json.loads(row[1]), row[2], row[1])
                for row in rows
            ]
        return OrchestrationWorkItem(instance=record, messages=messages, lock_token=token)

    def _drop_orphan_messages(self, conn: sqlite3.Connection, now_us: int) -> None:
        # Messages whose instance was purged can never be claimed: remove them. The sweep scans
        # every visible message, and an empty claim is frequent while an instance's completions
        # are held back (a fan-in with thousands queued): sweep at most every ORPHAN_SWEEP_SECONDS.
        clock = time.monotonic()
        if clock < self._next_orphan_sweep:
            return
        self._next_orphan_sweep = clock + ORPHAN_SWEEP_SECONDS
        conn.execute(
            "DELETE FROM messages WHERE visible_at <= ? AND instance_id NOT IN "
            "(SELECT instance_id FROM instances)",
            (now_us,),
        )

    def commit_episode(
        self, item: OrchestrationWorkItem, commit: EpisodeCommit
    ) -> list[ActivityWorkItem]:
        instance_id = item.instance.instance_id
        updated_us = to_micros(commit.updated)
        history_len = item.instance.history_len + len(commit.appended)
        execution_id = item.instance.execution_id
        if commit.new_execution_id is not None:
            # ContinueAsNew: the old execution's history is replaced by the new one's.
            history_len = 0
            execution_id = commit.new_execution_id
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
        with self._tx() as conn:
            # The instance row first: updating it only under our lease is the lease check.
            updated = conn.execute(
                f"UPDATE instances SET {', '.join(assignments)} "
                "WHERE instance_id = ? AND lock_owner = ?",
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
                self._insert_message(
                    conn, instance_id, commit.new_execution_start, execution_id, updated_us
                )
            if commit.finished:
                # Terminal instances discard their remaining messages (timers, late events);
                # their texts come back to drop them from the claim cache.
                for (text,) in conn.execute(
                    "DELETE FROM messages WHERE instance_id = ? RETURNING event", (instance_id,)
                ).fetchall():
                    self._queued.pop(text, None)
            leased: list[ActivityWorkItem] = []
            if commit.activities and commit.lease_owner is not None:
                assert commit.lease_until is not None
                leased = self._insert_leased_activities(
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
                    self._create(conn, child.record, child.start_event)
                except InstanceExistsError as exc:
                    reason = instance_already_exists(exc.status)
                    self._insert_message(
                        conn,
                        instance_id,
                        new_sub_orchestration_failed(commit.updated, child.task_id, reason, reason),
                        execution_id,
                        updated_us,
                    )
            for message in commit.messages:
                visible = (
                    to_micros(message.visible_at) if message.visible_at is not None else updated_us
                )
                self._insert_message(
                    conn, message.instance_id, message.event, message.execution_id, visible
                )
        item.instance.history_len = history_len
        item.instance.execution_id = execution_id
        return leased

    @staticmethod
    def _insert_leased_activities(
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

    def release_orchestration(self, item: OrchestrationWorkItem) -> None:
        with self._tx() as conn:
            conn.execute(
                "UPDATE instances SET lock_owner = NULL, lock_until = NULL "
                "WHERE instance_id = ? AND lock_owner = ?",
                (item.instance.instance_id, item.lock_token),
            )

    # -- activities ----------------------------------------------------------------------------
    def claim_activities(
        self, owner: str, now: datetime, lease_seconds: float, limit: int
    ) -> list[ActivityWorkItem]:
        if limit <= 0:
            return []
        now_us = to_micros(now)
        token = f"{owner}:{uuid.uuid4().hex}"
        columns = "id, instance_id, execution_id, task_id, name, input, dequeue_count"
        lease = (token, now_us + int(lease_seconds * 1_000_000))
        update = (
            "UPDATE activities SET lock_owner = ?, lock_until = ?, "
            "dequeue_count = dequeue_count + 1 WHERE id IN ({}) "
            f"RETURNING {columns}"
        )
        with self._tx() as conn:
            # Two index ranges (activities_by_lock): never-leased items in queue order, then
            # items whose lease ran out (only after a crash). One query with OR would scan the
            # whole table, leased items included, on every claim.
            rows = conn.execute(
                update.format(
                    "SELECT id FROM activities WHERE lock_until IS NULL ORDER BY id LIMIT ?"
                ),
                (*lease, limit),
            ).fetchall()
            if len(rows) < limit:
                rows += conn.execute(
                    update.format(
                        "SELECT id FROM activities INDEXED BY activities_by_lock "
                        "WHERE lock_until < ? ORDER BY id LIMIT ?"
                    ),
                    (*lease, now_us, limit - len(rows)),
                ).fetchall()
        rows.sort()  # RETURNING gives no order: queue order
        return [
            ActivityWorkItem(
                item_id=row[0],
                instance_id=row[1],
                execution_id=row[2],
                task_id=row[3],
                name=row[4],
                input_json=row[5],
                lock_token=token,
                dequeue_count=row[6],
            )
            for row in rows
        ]

    def complete_activities(self, results: list[tuple[ActivityWorkItem, Event]]) -> None:
        if not results:
            return
        with self._tx() as conn:
            # Few statements per batch: delete the still-leased items (by primary key, per
            # lease token; a row-value IN would scan the table), queue their results.
            by_token: dict[str, list[int]] = {}
            for item, _ in results:
                by_token.setdefault(item.lock_token, []).append(item.item_id)
            deleted: set[int] = set()
            for token, ids in by_token.items():
                for start in range(0, len(ids), 500):
                    chunk = ids[start : start + 500]
                    marks = ", ".join("?" for _ in chunk)
                    deleted.update(
                        row[0]
                        for row in conn.execute(
                            f"DELETE FROM activities WHERE id IN ({marks}) AND lock_owner = ? "
                            "RETURNING id",
                            (*chunk, token),
                        ).fetchall()
                    )
            conn.executemany(
                "INSERT INTO messages (instance_id, execution_id, event, visible_at) "
                "VALUES (?, ?, ?, ?)",
                [
                    (item.instance_id, item.execution_id, self._encode(event), VISIBLE_NOW)
                    for item, event in results
                    if item.item_id in deleted
                ],
            )

    def release_activity(self, item: ActivityWorkItem) -> None:
        with self._tx() as conn:
            conn.execute(
                "UPDATE activities SET lock_owner = NULL, lock_until = NULL "
                "WHERE id = ? AND lock_owner = ?",
                (item.item_id, item.lock_token),
            )

    # -- time and idleness ---------------------------------------------------------------------
    def next_visible_at(self, now: datetime) -> datetime | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT MIN(visible_at) FROM messages WHERE visible_at > ?", (to_micros(now),)
            ).fetchone()
        return None if row[0] is None else from_micros(row[0])

    def has_ready_work(self, now: datetime) -> bool:
        now_us = to_micros(now)
        with self._lock:
            message = self._conn.execute(
                "SELECT 1 FROM messages m JOIN instances i ON i.instance_id = m.instance_id "
                "WHERE m.visible_at <= ? LIMIT 1",
                (now_us,),
            ).fetchone()
            activity = self._conn.execute("SELECT 1 FROM activities LIMIT 1").fetchone()
        return message is not None or activity is not None

    # -- queries -------------------------------------------------------------------------------
    @staticmethod
    def _where(query: QueryFilter) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        values: list[Any] = []
        if query.created_time_from is not None:
            clauses.append("created_at >= ?")
            values.append(to_micros(query.created_time_from))
        if query.created_time_to is not None:
            clauses.append("created_at <= ?")
            values.append(to_micros(query.created_time_to))
        if query.runtime_status:
            marks = ", ".join("?" for _ in query.runtime_status)
            clauses.append(f"status IN ({marks})")
            values.extend(sorted(status.value for status in query.runtime_status))
        if query.instance_id_prefix:
            # substr() instead of LIKE: ids may contain % and _ (no escaping games).
            clauses.append("substr(instance_id, 1, ?) = ?")
            values += [len(query.instance_id_prefix), query.instance_id_prefix]
        return (" AND ".join(clauses) or "1 = 1"), values

    def query(
        self, query: QueryFilter, limit: int, after: tuple[datetime, str] | None
    ) -> list[InstanceRecord]:
        where, values = self._where(query)
        if after is not None:
            where += " AND (created_at, instance_id) > (?, ?)"
            values += [to_micros(after[0]), after[1]]
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {_INSTANCE_COLUMNS} FROM instances WHERE {where} "
                "ORDER BY created_at, instance_id LIMIT ?",
                (*values, limit),
            ).fetchall()
        return [self._record(row) for row in rows]

    def purge(self, instance_id: str) -> bool:
        with self._tx() as conn:
            deleted = conn.execute(
                "DELETE FROM instances WHERE instance_id = ?", (instance_id,)
            ).rowcount
            self._delete_instance_rows(conn, instance_id)
        return bool(deleted)

    def purge_by(self, query: QueryFilter) -> int:
        where, values = self._where(query)
        with self._tx() as conn:
            ids = [
                row[0]
                for row in conn.execute(
                    f"SELECT instance_id FROM instances WHERE {where}", values
                ).fetchall()
            ]
            for instance_id in ids:
                conn.execute("DELETE FROM instances WHERE instance_id = ?", (instance_id,))
                self._delete_instance_rows(conn, instance_id)
        return len(ids)

    def rewind_instance(
        self, instance_id: str, events: list[Event], trigger: Event, updated: datetime
    ) -> None:
        with self._tx() as conn:
            conn.execute("DELETE FROM history WHERE instance_id = ?", (instance_id,))
            conn.executemany(
                "INSERT INTO history (instance_id, seq, event) VALUES (?, ?, ?)",
                [(instance_id, seq, json.dumps(event)) for seq, event in enumerate(events)],
            )
            conn.execute(
                "UPDATE instances SET status = ?, output = NULL, failure_details = NULL, "
                "updated_at = ?, history_len = ? WHERE instance_id = ?",
                (RuntimeStatus.RUNNING.value, to_micros(updated), len(events), instance_id),
            )
            self._insert_message(conn, instance_id, trigger, None, to_micros(updated))

    def release_all_leases(self) -> None:
        with self._tx() as conn:
            conn.execute("UPDATE instances SET lock_owner = NULL, lock_until = NULL")
            conn.execute("UPDATE activities SET lock_owner = NULL, lock_until = NULL")


ORPHAN_SWEEP_SECONDS = 2.0
# Queued events kept for their claim (SqliteStore._encode); more are parsed back from JSON.
QUEUED_EVENTS_KEPT = 16_384

# Client messages and activity results are visible at once, whatever the runtime's clock
# says (a ManualClock may stand anywhere): their visibility time is the epoch.
VISIBLE_NOW = 0


def encode_continuation(created: datetime, instance_id: str) -> str:
    raw = json.dumps([to_micros(created), instance_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_continuation(token: str) -> tuple[datetime, str]:
    """Raises ValueError for a token this store did not make."""
    try:
        padded = token + "=" * (-len(token) % 4)
        created, instance_id = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(created, int) or not isinstance(instance_id, str):
            raise ValueError
    except Exception:
        raise ValueError(f"'{token}' is not a valid continuation token") from None
    return from_micros(created), instance_id
