"""The instance query filter (the list and purge query parameters of spec §6)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from durable_local.model.status import RuntimeStatus


@dataclass(frozen=True)
class QueryFilter:
    """Filter for ``query`` and ``purge_by`` (the list/purge query parameters of spec §6)."""

    created_time_from: datetime | None = None
    created_time_to: datetime | None = None
    runtime_status: frozenset[RuntimeStatus] = field(default_factory=frozenset)
    instance_id_prefix: str | None = None
