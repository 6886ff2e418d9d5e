"""Pure replay tests of one orchestrator: history in; actions, output and custom status out.

``HistoryBuilder`` writes history events the way the Durable Task Framework stores them
(PascalCase keys, ``EventType`` ints, ``EventId`` = the sequence number on scheduling events
and -1 elsewhere, ``Timestamp`` in UTC with a ``Z``), episode by episode. ``replay`` wraps them
in the orchestration trigger payload the Functions host sends and calls the orchestrator the
way the host does, through the SDK's real replay engine; ``ReplayResult`` decodes what the SDK
returned (its ``OrchestratorState``, or the ``$OutOfProcData$`` of a failure).

No runtime, store or event loop is involved: one call is one episode, in microseconds.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from durable_local.model import ActionType, EventType

#: Where a builder's clock starts unless told otherwise.
DEFAULT_START = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
_OUT_OF_PROC_MARKER = "\n\n$OutOfProcData$:"


def iso(moment: datetime) -> str:
    """``moment`` as history timestamps are written (UTC, microseconds, ``Z``)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class HistoryBuilder:
    """One orchestration execution's history, built episode by episode.

    The builder opens the first episode (OrchestratorStarted, ExecutionStarted with ``input``);
    every ``orchestrator_started`` opens the next one, ``advance`` later. Scheduling events take
    the sequence number the SDK gave the action (``event_id``); completions name it
    (``scheduled_id``). Values are JSON-encoded as the host encodes them; ``event_raised`` takes
    the stored JSON text, since the SDK client double-encodes what it raises.
    """

    name: str
    input: Any = None
    instance_id: str = "test-instance"
    parent_instance_id: str | None = None
    now: datetime = DEFAULT_START
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

    def _add(self, event_type: EventType, event_id: int = -1, **fields: Any) -> HistoryBuilder:
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

    def orchestrator_started(self, advance: timedelta = timedelta(seconds=1)) -> HistoryBuilder:
        """Start a new episode, ``advance`` after the previous one."""
        self.now += advance
        return self._add(EventType.ORCHESTRATOR_STARTED)

    def orchestrator_completed(self) -> HistoryBuilder:
        """Close the current episode."""
        return self._add(EventType.ORCHESTRATOR_COMPLETED)

    def task_scheduled(self, event_id: int, name: str, input_value: Any = None) -> HistoryBuilder:
        """An activity call the orchestrator scheduled as action ``event_id``."""
        return self._add(
            EventType.TASK_SCHEDULED,
            event_id,
            Name=name,
            Input=json.dumps([json.dumps(input_value)]),
        )

    def task_completed(self, scheduled_id: int, result: Any) -> HistoryBuilder:
        """Activity ``scheduled_id`` returned ``result``."""
        return self._add(
            EventType.TASK_COMPLETED, TaskScheduledId=scheduled_id, Result=json.dumps(result)
        )

    def task_failed(self, scheduled_id: int, reason: str, details: str = "{}") -> HistoryBuilder:
        """Activity ``scheduled_id`` raised (``reason`` is what the orchestrator sees)."""
        return self._add(
            EventType.TASK_FAILED, TaskScheduledId=scheduled_id, Reason=reason, Details=details
        )

    def sub_orchestration_created(
        self, event_id: int, name: str, instance_id: str, input_value: Any = None
    ) -> HistoryBuilder:
        """A sub-orchestration the orchestrator started as action ``event_id``."""
        return self._add(
            EventType.SUB_ORCHESTRATION_INSTANCE_CREATED,
            event_id,
            Name=name,
            InstanceId=instance_id,
            Input=json.dumps(json.dumps(input_value)),
        )

    def sub_orchestration_completed(self, scheduled_id: int, result: Any) -> HistoryBuilder:
        """Sub-orchestration ``scheduled_id`` completed with ``result``."""
        return self._add(
            EventType.SUB_ORCHESTRATION_INSTANCE_COMPLETED,
            TaskScheduledId=scheduled_id,
            Result=json.dumps(result),
        )

    def sub_orchestration_failed(
        self, scheduled_id: int, reason: str, details: str | None = "{}"
    ) -> HistoryBuilder:
        """Sub-orchestration ``scheduled_id`` failed; ``details`` None is what a terminated
        child sends (DTFx: the reason, no details)."""
        return self._add(
            EventType.SUB_ORCHESTRATION_INSTANCE_FAILED,
            TaskScheduledId=scheduled_id,
            Reason=reason,
            Details=details,
        )

    def timer_created(self, event_id: int, fire_at: datetime) -> HistoryBuilder:
        """A durable timer the orchestrator created as action ``event_id``."""
        return self._add(EventType.TIMER_CREATED, event_id, FireAt=iso(fire_at))

    def timer_fired(self, timer_id: int, fire_at: datetime) -> HistoryBuilder:
        """Timer ``timer_id`` fired."""
        return self._add(EventType.TIMER_FIRED, TimerId=timer_id, FireAt=iso(fire_at))

    def event_raised(self, name: str, input_json: str) -> HistoryBuilder:
        """External event ``name``; ``input_json`` is the stored JSON text (EventRaised.Input)."""
        return self._add(EventType.EVENT_RAISED, Name=name, Input=input_json)

    # -- the trigger payload and the call ------------------------------------------------------

    def context_json(self) -> str:
        """The orchestration trigger payload the host sends for the current history."""
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
            EventType.SUB_ORCHESTRATION_INSTANCE_CREATED: "sub",
            EventType.TIMER_CREATED: "timer",
        }
        return [
            (kinds[EventType(e["EventType"])], e["EventId"], e.get("Name"))
            for e in self.events
            if e["EventType"] in kinds
        ]

    def replay(self, orchestrator: Callable[[str], Any]) -> ReplayResult:
        """Run one episode of ``orchestrator`` on this history (see ``replay``)."""
        return replay(orchestrator, self)


@dataclass(frozen=True)
class ReplayResult:
    """What one episode returned: the SDK's OrchestratorState, and the error text when the
    orchestrator raised."""

    state: dict[str, Any]
    error: str | None = None

    @property
    def actions(self) -> list[dict[str, Any]]:
        """Top-level actions (schema V3: one list holding everything, in scheduling order)."""
        groups = self.state["actions"]
        if len(groups) != 1:
            raise AssertionError(f"expected one action group (schema V3), got {groups!r}")
        return list(groups[0])

    @property
    def done(self) -> bool:
        """Whether the orchestrator finished (completed, or failed) in this episode."""
        return bool(self.state["isDone"])

    @property
    def output(self) -> Any:
        """The orchestrator's return value once ``done``."""
        return self.state.get("output")

    @property
    def custom_status(self) -> Any:
        """What the orchestrator passed to ``set_custom_status``."""
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


def replay(orchestrator: Callable[[str], Any], history: HistoryBuilder) -> ReplayResult:
    """Invoke an orchestrator on ``history`` as the host does.

    ``orchestrator`` is what a ``DFApp`` registered: the module-level name the
    ``@app.orchestration_trigger`` decorator returned, or the function's
    ``get_user_function()``; both take the trigger payload and return the SDK's JSON answer.
    """
    try:
        text = orchestrator(history.context_json())
    except Exception as error:
        message = str(error)
        if _OUT_OF_PROC_MARKER not in message:
            raise
        head, _, data = message.partition(_OUT_OF_PROC_MARKER)
        return ReplayResult(state=json.loads(data), error=head)
    return ReplayResult(state=json.loads(str(text)))
