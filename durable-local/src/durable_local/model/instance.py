"""The records of an orchestration instance that every layer passes around."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from durable_local.model.status import RuntimeStatus


@dataclass(frozen=True)
class ParentLink:
    """Where a sub-orchestration reports its outcome: its parent's instance, execution, the
    task id the parent waits on, and the parent's orchestrator name."""

    instance_id: str
    execution_id: str
    task_id: int
    name: str


@dataclass
class InstanceRecord:
    """An instance as the store keeps it (current execution); ``generation`` counts rewrites
    of its history (rewind, continue-as-new) and ``history_len`` is its stored event count."""

    instance_id: str
    name: str
    execution_id: str
    status: RuntimeStatus
    input_json: str | None
    created: datetime
    updated: datetime
    output: str | None = None
    custom_status: str | None = None
    failure_details: str | None = None
    parent: ParentLink | None = None
    generation: int = 0
    history_len: int = 0
