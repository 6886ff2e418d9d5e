"""SQLite store (WAL): one transaction per state change, leases for crash safety.

Times are stored as integer microseconds since the epoch so that "visible at or before now"
comparisons are exact (a timer must never be seen before its FireAt, spec §2.4).
One runtime process owns a store file at a time; ``release_all_leases`` at start hands the
work of a crashed predecessor back to the queue.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from durable_local.engine.commit import EpisodeCommit
from durable_local.engine.events import Event
from durable_local.engine.orchestration.plan import Message
from durable_local.model import (
    InstanceRecord,
    QueryFilter,
    RuntimeStatus,
)
from durable_local.model.errors import StoreUnavailable
from durable_local.store.base import (
    ActivityWorkItem,
    OrchestrationWorkItem,
)
from durable_local.store.health import StoreHealth
from durable_local.store.queued_events import QueuedEvents
from durable_local.store.sqlite_schema import (
    INSTANCE_COLUMNS,
    ORPHAN_SWEEP_SECONDS,
    SCHEMA,
    VISIBLE_NOW,
    from_micros,
    record_from_row,
    to_micros,
    where_clause,
)
from durable_local.store.sqlite_writes import (
    apply_commit,
    create_instance_rows,
    delete_instance_rows,
    insert_message,
    position_after,
)

WAL_SIZE_LIMIT = 16 * 1024 * 1024


class SqliteStore:
    """The ``Store`` on one SQLite file (or ``":memory:"``)."""

    def __init__(self, path: str | Path = ":memory:") -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._next_orphan_sweep = 0.0
        self._queued = QueuedEvents()  # read back by claims without parsing
        try:
            self._conn = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=30
            )
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute("PRAGMA foreign_keys=OFF")
            # After a checkpoint the WAL is cut back to this size instead of keeping its peak.
            self._conn.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")
            self._conn.executescript(SCHEMA)
        except sqlite3.Error as exc:  # a full disk, a read-only file, not a database
            raise StoreUnavailable(f"cannot open the store {self.path}: {exc}") from None
        self._health = StoreHealth(None if self.path == ":memory:" else self.path)

    # -- plumbing ------------------------------------------------------------------------------
    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            conn = self._conn
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    yield conn
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:  # SQLite may have rolled back already (a full disk)
                        with contextlib.suppress(sqlite3.Error):
                            conn.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                reason = self._health.failed(exc)
                if reason is not None:
                    raise StoreUnavailable(reason) from exc
                raise
            self._health.succeeded()

    def problem(self) -> str | None:
        with self._lock:
            return self._health.problem(self._probe)

    def _probe(self) -> None:
        with contextlib.suppress(StoreUnavailable), self._tx() as conn:
            conn.execute("INSERT OR REPLACE INTO probe (id, at) VALUES (1, ?)", (time.time_ns(),))

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # -- instances -----------------------------------------------------------------------------
    def create_instance(self, record: InstanceRecord, start_event: Event) -> None:
        with self._tx() as conn:
            create_instance_rows(conn, self._queued, record, start_event)

    def get_instance(self, instance_id: str) -> InstanceRecord | None:
        with self._lock:
            row = self._conn.execute(
                f"SELECT {INSTANCE_COLUMNS} FROM instances WHERE instance_id = ?",
                (instance_id,),
            ).fetchone()
        return None if row is None else record_from_row(row)

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
            insert_message(conn, self._queued, instance_id, event, execution_id, VISIBLE_NOW)

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
                f"ORDER BY m.id LIMIT 1) RETURNING {INSTANCE_COLUMNS}",
                (token, now_us + int(lease_seconds * 1_000_000), now_us, now_us, *exclude),
            ).fetchone()
            if row is None:
                self._drop_orphan_messages(conn, now_us)
                return None
            record = record_from_row(row)
            instance_id = record.instance_id
            rows = conn.execute(
                "SELECT id, event, execution_id FROM messages "
                "WHERE instance_id = ? AND visible_at <= ? ORDER BY id",
                (instance_id, now_us),
            ).fetchall()
            queued = self._queued
            messages = [
                Message(row[0], queued.take(row[1]) or json.loads(row[1]), row[2], row[1])
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
        with self._tx() as conn:
            leased = apply_commit(conn, self._queued, item, commit)
        item.instance.history_len, item.instance.execution_id = position_after(item, commit)
        return leased

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
                    (item.instance_id, item.execution_id, self._queued.encode(event), VISIBLE_NOW)
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

    def has_ready_work(self, now: datetime, exclude: Collection[str] = ()) -> bool:
        now_us = to_micros(now)
        skip = f"AND m.instance_id NOT IN ({', '.join('?' for _ in exclude)}) " if exclude else ""
        with self._lock:
            message = self._conn.execute(
                "SELECT 1 FROM messages m JOIN instances i ON i.instance_id = m.instance_id "
                f"WHERE m.visible_at <= ? {skip}LIMIT 1",
                (now_us, *exclude),
            ).fetchone()
            activity = self._conn.execute("SELECT 1 FROM activities LIMIT 1").fetchone()
        return message is not None or activity is not None

    # -- queries -------------------------------------------------------------------------------
    def query(
        self, query: QueryFilter, limit: int, after: tuple[datetime, str] | None
    ) -> list[InstanceRecord]:
        where, values = where_clause(query)
        if after is not None:
            where += " AND (created_at, instance_id) > (?, ?)"
            values += [to_micros(after[0]), after[1]]
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {INSTANCE_COLUMNS} FROM instances WHERE {where} "
                "ORDER BY created_at, instance_id LIMIT ?",
                (*values, limit),
            ).fetchall()
        return [record_from_row(row) for row in rows]

    def purge(self, instance_id: str) -> bool:
        with self._tx() as conn:
            deleted = conn.execute(
                "DELETE FROM instances WHERE instance_id = ?", (instance_id,)
            ).rowcount
            delete_instance_rows(conn, instance_id)
        return bool(deleted)

    def purge_by(self, query: QueryFilter) -> int:
        where, values = where_clause(query)
        with self._tx() as conn:
            ids = [
                row[0]
                for row in conn.execute(
                    f"SELECT instance_id FROM instances WHERE {where}", values
                ).fetchall()
            ]
            for instance_id in ids:
                conn.execute("DELETE FROM instances WHERE instance_id = ?", (instance_id,))
                delete_instance_rows(conn, instance_id)
        if ids:
            self._checkpoint()
        return len(ids)

    def _checkpoint(self) -> None:
        """A bulk purge writes as much WAL as it deletes: fold it into the file and cut the WAL
        back (single purges are small; journal_size_limit caps what they leave)."""
        if self.path == ":memory:":
            return
        with self._lock, contextlib.suppress(sqlite3.Error):  # busy readers: the next one
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

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
            insert_message(conn, self._queued, instance_id, trigger, None, to_micros(updated))

    def get_schedule_status(self, function_name: str) -> str | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT status FROM schedule_status WHERE function_name = ?",
                (function_name.lower(),),
            ).fetchone()
        return None if row is None else str(row[0])

    def set_schedule_status(self, function_name: str, status_json: str) -> None:
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO schedule_status (function_name, status) VALUES (?, ?) "
                "ON CONFLICT (function_name) DO UPDATE SET status = excluded.status",
                (function_name.lower(), status_json),
            )

    def release_all_leases(self) -> None:
        with self._tx() as conn:
            conn.execute("UPDATE instances SET lock_owner = NULL, lock_until = NULL")
            conn.execute("UPDATE activities SET lock_owner = NULL, lock_until = NULL")
