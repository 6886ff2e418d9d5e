"""A history builder and runner for driving orchestrators through the real SDK replay engine.

The builder writes history events the way the Durable Task Framework stores them (PascalCase
keys, ``EventType`` ints, ``EventId`` = sequence id on scheduling events and -1 elsewhere,
``Timestamp`` in UTC with a ``Z``), and ``context_json`` wraps them in the orchestration
trigger payload the host sends (spec section 1). ``run`` calls the orchestrator handle with it
and decodes either the returned OrchestratorState or the ``$OutOfProcData$`` of a failure.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import IntEnum
from typing import Any

START = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
OUT_OF_PROC_MARKER = "\n\n$OutOfProcData$:"


class EventType(IntEnum):
    EXECUTION_STARTED = 0
    TASK_SCHEDULED = 4
    TASK_COMPLETED = 5
    TASK_FAILED = 6
    SUB_ORCHESTRATION_CREATED = 7
    SUB_ORCHESTRATION_COMPLETED = 8
    SUB_ORCHESTRATION_FAILED = 9
    TIMER_CREATED = 10
    TIMER_FIRED = 11
    ORCHESTRATOR_STARTED = 12
    ORCHESTRATOR_COMPLETED = 13
    EVENT_RAISED = 15


class ActionType(IntEnum):
    CALL_ACTIVITY = 0
    CALL_ACTIVITY_WITH_RETRY = 1
    CALL_SUB_ORCHESTRATOR = 2
    CREATE_TIMER = 5
    WAIT_FOR_EXTERNAL_EVENT = 6
    WHEN_ANY = 11
    WHEN_ALL = 12


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class History:
    """One orchestration execution's history, built episode by episode."""

    instance_id: str
    name: str
    input: Any
    parent_instance_id: str | None = None
    now: datetime = START
    events: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.orchestrator_started(advance=timedelta(0))
        self._add(
            EventType.EXECUTION_STARTED,
            OrchestrationInstance={"InstanceId": self.instance_id, "ExecutionId": "exec-1"},
            ParentInstance=None,
            Name=self.name,
            Version="",
            # ExecutionStarted.Input holds JSON text, as for a start through the SDK client.
            Input=json.dumps(self.input),
            Tags=None,
        )

    # -- event factories (named after the event they append) --------------------------------

    def _add(self, event_type: EventType, event_id: int = -1, **fields: Any) -> History:
        self.events.append(
            {
                "EventType": int(event_type),
                "EventId": event_id,
                "IsPlayed": False,
                "Timestamp": iso(self.now),
                **fields,
            }
        )
        return self

    def orchestrator_started(self, advance: timedelta = timedelta(seconds=1)) -> History:
        """Start a new episode, ``advance`` after the previous one."""
        self.now += advance
        return self._add(EventType.ORCHESTRATOR_STARTED)

    def orchestrator_completed(self) -> History:
        return self._add(EventType.ORCHESTRATOR_COMPLETED)

    def task_scheduled(self, event_id: int, name: str, input_value: Any = None) -> History:
        return self._add(
            EventType.TASK_SCHEDULED,
            event_id,
            Name=name,
            Input=json.dumps([json.dumps(input_value)]),
        )

    def task_completed(self, scheduled_id: int, result: Any) -> History:
        return self._add(
            EventType.TASK_COMPLETED, TaskScheduledId=scheduled_id, Result=json.dumps(result)
        )

    def task_failed(self, scheduled_id: int, reason: str, details: str = "{}") -> History:
        return self._add(
            EventType.TASK_FAILED, TaskScheduledId=scheduled_id, Reason=reason, Details=details
        )

    def sub_orchestration_created(
        self, event_id: int, name: str, instance_id: str, input_value: Any = None
    ) -> History:
        return self._add(
            EventType.SUB_ORCHESTRATION_CREATED,
            event_id,
            Name=name,
            InstanceId=instance_id,
            Input=json.dumps(json.dumps(input_value)),
        )

    def sub_orchestration_completed(self, scheduled_id: int, result: Any) -> History:
        return self._add(
            EventType.SUB_ORCHESTRATION_COMPLETED,
            TaskScheduledId=scheduled_id,
            Result=json.dumps(result),
        )

    def sub_orchestration_failed(
        self, scheduled_id: int, reason: str, details: str | None
    ) -> History:
        """``details`` None: what a terminated child sends (DTFx: the reason, no details)."""
        return self._add(
            EventType.SUB_ORCHESTRATION_FAILED,
            TaskScheduledId=scheduled_id,
            Reason=reason,
            Details=details,
        )

    def timer_created(self, event_id: int, fire_at: datetime) -> History:
        return self._add(EventType.TIMER_CREATED, event_id, FireAt=iso(fire_at))

    def timer_fired(self, timer_id: int, fire_at: datetime) -> History:
        return self._add(EventType.TIMER_FIRED, TimerId=timer_id, FireAt=iso(fire_at))

    def event_raised(self, name: str, input_json: str) -> History:
        """``input_json`` is the stored JSON text (what the host wrote into EventRaised.Input)."""
        return self._add(EventType.EVENT_RAISED, Name=name, Input=input_json)

    # -- the trigger payload ----------------------------------------------------------------

    def context_json(self) -> str:
        """The orchestration trigger payload of spec section 1 for the current history."""
        last_start = max(
            i for i, e in enumerate(self.events) if e["EventType"] == EventType.ORCHESTRATOR_STARTED
        )
        history = []
        for index, event in enumerate(self.events):
            played = index < last_start and event["EventType"] != EventType.ORCHESTRATOR_STARTED
            history.append({**event, "IsPlayed": played})
        return json.dumps(
            {
                "history": history,
                "input": json.dumps(self.input),
                "instanceId": self.instance_id,
                "isReplaying": history[1]["IsPlayed"],
                "parentInstanceId": self.parent_instance_id,
                "upperSchemaVersion": 1,
                "upperSchemaVersionNew": 2,
                "longRunningTimerIntervalDuration": "3.00:00:00",
                "maximumShortTimerDuration": "6.00:00:00",
                "defaultHttpAsyncRequestSleepTimeMillseconds": 30000,
            }
        )

    def scheduled(self) -> list[tuple[str, int, str | None]]:
        """(kind, sequence id, name) of every scheduling event, in history order."""
        kinds = {
            EventType.TASK_SCHEDULED: "activity",
            EventType.SUB_ORCHESTRATION_CREATED: "sub",
            EventType.TIMER_CREATED: "timer",
        }
        return [
            (kinds[EventType(e["EventType"])], e["EventId"], e.get("Name"))
            for e in self.events
            if e["EventType"] in kinds
        ]


@dataclass(frozen=True)
class Outcome:
    """A decoded OrchestratorState, plus the error text when the orchestrator raised."""

    state: dict[str, Any]
    error: str | None = None

    @property
    def actions(self) -> list[dict[str, Any]]:
        """Top-level actions (schema V3: one list holding everything, in scheduling order)."""
        groups = self.state["actions"]
        assert len(groups) == 1, groups
        return list(groups[0])

    @property
    def done(self) -> bool:
        return bool(self.state["isDone"])

    @property
    def output(self) -> Any:
        return self.state.get("output")

    @property
    def custom_status(self) -> Any:
        return self.state.get("customStatus")

    def leaves(self) -> list[dict[str, Any]]:
        """Every non-compound action, depth first (what DTFx assigns sequence ids to)."""
        return list(_leaves(self.actions))


def _leaves(actions: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for action in actions:
        if action["actionType"] in (ActionType.WHEN_ANY, ActionType.WHEN_ALL):
            yield from _leaves(action["compoundActions"])
        else:
            yield action


def run(handle: Callable[[str], str], history: History) -> Outcome:
    """Invoke an orchestrator handle on ``history`` as the host does."""
    try:
        text = handle(history.context_json())
    except Exception as error:
        message = str(error)
        if OUT_OF_PROC_MARKER not in message:
            raise
        head, _, data = message.partition(OUT_OF_PROC_MARKER)
        return Outcome(state=json.loads(data), error=head)
    return Outcome(state=json.loads(text))
