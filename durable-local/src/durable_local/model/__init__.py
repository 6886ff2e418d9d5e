"""The vocabulary of every layer: statuses, history event and action types, times, the query
filter, instance records and ids, errors that carry their HTTP status, the extension's texts.

Each name lives in one module of this package and is re-exported here.
"""

from durable_local.model.errors import (
    BadRequest,
    DurableError,
    InstanceAlreadyExists,
    InstanceGone,
    InstanceNotFound,
    InvalidOperation,
    PayloadTooLarge,
)
from durable_local.model.history import (
    COMPLETION_EVENTS,
    SCHEDULING_EVENTS,
    ActionType,
    Completion,
    EventType,
)
from durable_local.model.ids import instance_id_problem, sub_orchestration_id_problem
from durable_local.model.instance import InstanceRecord, ParentLink
from durable_local.model.jsontext import compact, compact_text
from durable_local.model.query import QueryFilter
from durable_local.model.status import (
    ACTIVE_STATUSES,
    TERMINAL_STATUSES,
    DtfxStatus,
    RuntimeStatus,
)
from durable_local.model.times import format_event_time, format_status_time, parse_time

__all__ = [
    "ACTIVE_STATUSES",
    "COMPLETION_EVENTS",
    "SCHEDULING_EVENTS",
    "TERMINAL_STATUSES",
    "ActionType",
    "BadRequest",
    "Completion",
    "DtfxStatus",
    "DurableError",
    "EventType",
    "InstanceAlreadyExists",
    "InstanceGone",
    "InstanceNotFound",
    "InstanceRecord",
    "InvalidOperation",
    "ParentLink",
    "PayloadTooLarge",
    "QueryFilter",
    "RuntimeStatus",
    "compact",
    "compact_text",
    "format_event_time",
    "format_status_time",
    "instance_id_problem",
    "parse_time",
    "sub_orchestration_id_problem",
]
