"""The SQLite store's schema, its time encoding, its row mapping and the SQL of a query filter."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from durable_local.model import InstanceRecord, ParentLink, QueryFilter, RuntimeStatus

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
CREATE TABLE IF NOT EXISTS schedule_status (
    function_name TEXT PRIMARY KEY,
    status TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS probe (id INTEGER PRIMARY KEY, at INTEGER NOT NULL);
"""

INSTANCE_COLUMNS = (
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


ORPHAN_SWEEP_SECONDS = 2.0

# Client messages and activity results are visible at once, whatever the runtime's clock
# says (a ManualClock may stand anywhere): their visibility time is the epoch.
VISIBLE_NOW = 0


def record_from_row(row: tuple[Any, ...]) -> InstanceRecord:
    """An ``instances`` row (``INSTANCE_COLUMNS``) as a record."""
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


def where_clause(query: QueryFilter) -> tuple[str, list[Any]]:
    """The SQL condition (on ``instances``) and its values for a query filter."""
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
