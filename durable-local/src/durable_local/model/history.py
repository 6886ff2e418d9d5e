"""History event types and SDK action types (DTFx and the SDK), and the tables that pair a
scheduling event with the events that complete it."""

from __future__ import annotations

import enum
from typing import NamedTuple


class EventType(enum.IntEnum):
    """DTFx history event types (DTFX History/EventType.cs, spec §2.1)."""

    EXECUTION_STARTED = 0
    EXECUTION_COMPLETED = 1
    EXECUTION_FAILED = 2
    EXECUTION_TERMINATED = 3
    TASK_SCHEDULED = 4
    TASK_COMPLETED = 5
    TASK_FAILED = 6
    SUB_ORCHESTRATION_INSTANCE_CREATED = 7
    SUB_ORCHESTRATION_INSTANCE_COMPLETED = 8
    SUB_ORCHESTRATION_INSTANCE_FAILED = 9
    TIMER_CREATED = 10
    TIMER_FIRED = 11
    ORCHESTRATOR_STARTED = 12
    ORCHESTRATOR_COMPLETED = 13
    EVENT_SENT = 14
    EVENT_RAISED = 15
    CONTINUE_AS_NEW = 16
    GENERIC_EVENT = 17
    HISTORY_STATE = 18
    EXECUTION_SUSPENDED = 19
    EXECUTION_RESUMED = 20
    EXECUTION_REWOUND = 21


class ActionType(enum.IntEnum):
    """SDK action types (SDK models/actions/ActionType.py, spec §3.2)."""

    CALL_ACTIVITY = 0
    CALL_ACTIVITY_WITH_RETRY = 1
    CALL_SUB_ORCHESTRATOR = 2
    CALL_SUB_ORCHESTRATOR_WITH_RETRY = 3
    CONTINUE_AS_NEW = 4
    CREATE_TIMER = 5
    WAIT_FOR_EXTERNAL_EVENT = 6
    CALL_ENTITY = 7
    CALL_HTTP = 8
    SIGNAL_ENTITY = 9
    WHEN_ANY = 11
    WHEN_ALL = 12


#: Events that schedule a task, with the kind of task each schedules (spec §3.7).
SCHEDULING_EVENTS: dict[EventType, str] = {
    EventType.TASK_SCHEDULED: "activity",
    EventType.SUB_ORCHESTRATION_INSTANCE_CREATED: "suborchestration",
    EventType.TIMER_CREATED: "timer",
    EventType.EVENT_SENT: "event",
}


class Completion(NamedTuple):
    """What a completion event answers: the event that scheduled its task, and whether the
    task succeeded."""

    scheduled_by: EventType
    succeeded: bool


#: Events that complete a scheduled task (matched by ``TaskScheduledId``, timers by
#: ``TimerId``).
COMPLETION_EVENTS: dict[EventType, Completion] = {
    EventType.TASK_COMPLETED: Completion(EventType.TASK_SCHEDULED, True),
    EventType.TASK_FAILED: Completion(EventType.TASK_SCHEDULED, False),
    EventType.SUB_ORCHESTRATION_INSTANCE_COMPLETED: Completion(
        EventType.SUB_ORCHESTRATION_INSTANCE_CREATED, True
    ),
    EventType.SUB_ORCHESTRATION_INSTANCE_FAILED: Completion(
        EventType.SUB_ORCHESTRATION_INSTANCE_CREATED, False
    ),
    EventType.TIMER_FIRED: Completion(EventType.TIMER_CREATED, True),
}
