"""Action replay: what the extension's shim and DTFx do with the SDK's actions (spec §3.7).

The SDK returns every action scheduled since the execution started. Like the extension, we run
those actions through a small emulation of the DTFx orchestration context against the whole
history: top-level actions run one after another, compound actions start all their children,
every id-consuming operation takes the next sequence id, and each scheduling event in history
must match the action that now holds its id (kind and name), or the replay is non-deterministic.
Retries (§7.6) are driven here, not by the SDK: retry timers and further attempts never appear
in the SDK's action list. Whatever is scheduled but not yet in history is new work.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from durable_local.engine.events import Event
from durable_local.engine.orchestration.tasks import (
    EventWait,
    Immediate,
    Leaf,
    Node,
    Retry,
    ScheduledTask,
    Sequence,
    WhenAll,
    WhenAny,
)
from durable_local.model import (
    COMPLETION_EVENTS,
    SCHEDULING_EVENTS,
    ActionType,
    EventType,
    parse_time,
    sub_orchestration_id_problem,
)
from durable_local.model.messages import function_missing

HTTP_ACTIVITY_NAME = "BuiltIn::HttpActivity"
_KIND_TEXT = {
    "activity": "an activity task",
    "suborchestration": "a sub-orchestration",
    "timer": "a timer",
    "event": "an event",
}


class NonDeterminismError(Exception):
    """History and the current actions disagree (DTFx NonDeterministicOrchestrationException)."""


class OrchestrationActionError(Exception):
    """An action the host refuses (unknown function, invalid sub-orchestration id, entities)."""


@dataclass
class ReplayResult:
    """What a replay found: tasks scheduled but not yet in history, tasks still open, and
    whether (and with what input) the orchestration continues as new."""

    new_tasks: list[ScheduledTask]
    open_task_ids: set[int]
    continue_as_new_input: str | None
    continued_as_new: bool


@dataclass
class _Replay:
    instance_id: str
    execution_id: str
    known_activities: Callable[[str], bool]
    known_orchestrators: Callable[[str], bool]
    parent_instance_id: str | None
    now: datetime
    next_id: int = 0
    unmatched: dict[int, ScheduledTask] = field(default_factory=dict)
    open: dict[int, Leaf] = field(default_factory=dict)
    waiters: dict[str, deque[EventWait]] = field(default_factory=dict)
    buffered: dict[str, deque[Event]] = field(default_factory=dict)
    continue_as_new_input: str | None = None
    continued_as_new: bool = False
    activity_names: set[str] = field(default_factory=set)  # checked by known_activities

    # -- scheduling -----------------------------------------------------------------------
    def take_id(self) -> int:
        task_id = self.next_id
        self.next_id += 1
        return task_id

    def schedule(self, leaf: Leaf) -> None:
        self.unmatched[leaf.task.task_id] = leaf.task
        if leaf.task.cancelled:
            # A cancelled timer is removed from the open tasks and counts as completed (.NET).
            leaf.finish(True)
        else:
            self.open[leaf.task.task_id] = leaf

    def new_timer(self, parent: Node | None, fire_at: datetime, cancelled: bool = False) -> Leaf:
        task = ScheduledTask(self.take_id(), "timer", "", fire_at=fire_at, cancelled=cancelled)
        return Leaf(self, parent, task)

    def wait_for_event(self, waiter: EventWait) -> None:
        key = waiter.name.lower()
        queue = self.buffered.get(key)
        if queue:
            queue.popleft()
            waiter.finish(True)
            return
        self.waiters.setdefault(key, deque()).append(waiter)

    # -- building nodes from SDK actions ---------------------------------------------------
    def build(self, action: dict[str, Any], parent: Node | None) -> Node:
        kind = action.get("actionType")
        if kind == ActionType.CALL_ACTIVITY:
            return self._activity_leaf(action, parent)
        if kind == ActionType.CALL_HTTP:
            return self._http_leaf(action, parent)
        if kind == ActionType.CALL_ACTIVITY_WITH_RETRY:
            return Retry(
                self,
                parent,
                lambda retry: self._activity_leaf(action, retry),
                action.get("retryOptions") or {},
            )
        if kind == ActionType.CALL_SUB_ORCHESTRATOR:
            return self._sub_orchestration_leaf(action, parent)
        if kind == ActionType.CALL_SUB_ORCHESTRATOR_WITH_RETRY:
            return Retry(
                self,
                parent,
                lambda retry: self._sub_orchestration_leaf(action, retry),
                action.get("retryOptions") or {},
            )
        if kind == ActionType.CREATE_TIMER:
            fire_at = parse_time(str(action.get("fireAt")))
            return self.new_timer(parent, fire_at, bool(action.get("isCanceled")))
        if kind == ActionType.WAIT_FOR_EXTERNAL_EVENT:
            return EventWait(self, parent, str(action.get("externalEventName") or ""))
        if kind == ActionType.CONTINUE_AS_NEW:
            self.continued_as_new = True
            self.continue_as_new_input = action.get("input")
            return Immediate(self, parent)
        if kind in (ActionType.WHEN_ALL, ActionType.WHEN_ANY):
            node_type = WhenAll if kind == ActionType.WHEN_ALL else WhenAny
            node = node_type(self, parent, [])
            node.children = [self.build(child, node) for child in action.get("compoundActions", [])]
            node.remaining = len(node.children)
            return node
        if kind in (ActionType.CALL_ENTITY, ActionType.SIGNAL_ENTITY):
            raise OrchestrationActionError(
                "Durable entities are not supported by durable-local "
                f"(the orchestration called entity '{action.get('instanceId')}')."
            )
        raise OrchestrationActionError(f"Unknown orchestrator action type {kind!r}.")

    def _activity_leaf(self, action: dict[str, Any], parent: Node | None) -> Leaf:
        name = action.get("functionName")
        # A fan-out asks for the same name thousands of times: checked once per replay.
        if type(name) is not str or name not in self.activity_names:
            name = str(name or "")
            if not self.known_activities(name):
                raise OrchestrationActionError(
                    function_missing(
                        name, "activity", "no activity function with that name is registered."
                    )
                )
            self.activity_names.add(name)
        task_id = self.next_id
        self.next_id = task_id + 1
        return Leaf(self, parent, ScheduledTask(task_id, "activity", name, action.get("input")))

    def _http_leaf(self, action: dict[str, Any], parent: Node | None) -> Leaf:
        request = json.dumps(action.get("httpRequest") or {})
        task = ScheduledTask(self.take_id(), "activity", HTTP_ACTIVITY_NAME, input_json=request)
        return Leaf(self, parent, task)

    def _sub_orchestration_leaf(self, action: dict[str, Any], parent: Node | None) -> Leaf:
        name = str(action.get("functionName") or "")
        if not self.known_orchestrators(name):
            raise OrchestrationActionError(
                function_missing(
                    name, "orchestrator", "no orchestrator function with that name is registered."
                )
            )
        task_id = self.take_id()
        child_id = action.get("instanceId") or f"{self.execution_id}:{task_id}"
        problem = sub_orchestration_id_problem(
            str(child_id), self.instance_id, self.parent_instance_id
        )
        if problem:
            raise OrchestrationActionError(problem)
        task = ScheduledTask(
            task_id,
            "suborchestration",
            name,
            input_json=action.get("input"),
            instance_id=str(child_id),
            version=action.get("version"),
        )
        return Leaf(self, parent, task)

    # -- walking history ---------------------------------------------------------------------
    def on_scheduling_event(self, event: Event, kind: str) -> None:
        task_id = int(event.get("EventId", -1))
        recorded_name = str(event.get("Name") or "")
        task = self.unmatched.pop(task_id, None)
        if task is None:
            raise NonDeterminismError(
                f"A previous execution of this orchestration scheduled {_KIND_TEXT[kind]} "
                f"with sequence ID {task_id}"
                + (f" named '{recorded_name}'" if recorded_name else "")
                + ", but the current replay execution hasn't (yet?) scheduled this task. "
                "Was a change made to the orchestrator code after this instance had already "
                "started running?"
            )
        if task.kind != kind or (kind != "timer" and task.name.lower() != recorded_name.lower()):
            now_text = _KIND_TEXT[task.kind] + (f" named '{task.name}'" if task.name else "")
            raise NonDeterminismError(
                f"A previous execution of this orchestration scheduled {_KIND_TEXT[kind]}"
                + (f" named '{recorded_name}'" if recorded_name else "")
                + f" with sequence number {task_id}, but the current orchestration replay "
                f"instead scheduled {now_text}. Was a change made to the orchestrator code "
                "after this instance had already started running?"
            )

    def on_completion(self, event: Event, succeeded: bool) -> None:
        key = "TimerId" if event["EventType"] == EventType.TIMER_FIRED else "TaskScheduledId"
        leaf = self.open.pop(int(event.get(key, -1)), None)
        if leaf is not None:  # unknown ids: cancelled timers, duplicates (DTFx ignores them)
            leaf.finish(succeeded)

    def on_event_raised(self, event: Event) -> None:
        key = str(event.get("Name") or "").lower()
        queue = self.waiters.get(key)
        while queue:
            waiter = queue.popleft()
            if not waiter.done:  # a WhenAny loser that already finished stays registered
                waiter.finish(True)
                return
        self.buffered.setdefault(key, deque()).append(event)


def replay_actions(
    history: list[Event],
    actions: list[dict[str, Any]],
    *,
    instance_id: str,
    execution_id: str,
    parent_instance_id: str | None,
    known_activities: Callable[[str], bool],
    known_orchestrators: Callable[[str], bool],
) -> ReplayResult:
    """Replay the SDK's top-level ``actions`` against ``history`` (past and this episode's events).

    Raises NonDeterminismError or OrchestrationActionError; the caller fails the execution.
    """
    replay = _Replay(
        instance_id=instance_id,
        execution_id=execution_id,
        known_activities=known_activities,
        known_orchestrators=known_orchestrators,
        parent_instance_id=parent_instance_id,
        now=_first_timestamp(history),
    )
    sequence = Sequence(replay, actions)
    for event in history:
        kind = event["EventType"]
        if kind == EventType.ORCHESTRATOR_STARTED:
            replay.now = parse_time(event["Timestamp"])
        elif kind == EventType.EXECUTION_STARTED:
            sequence.start()
        elif kind in SCHEDULING_EVENTS:
            replay.on_scheduling_event(event, SCHEDULING_EVENTS[kind])
        elif kind in COMPLETION_EVENTS:
            replay.on_completion(event, COMPLETION_EVENTS[kind].succeeded)
        elif kind == EventType.EVENT_RAISED:
            replay.on_event_raised(event)
    new_tasks = sorted(replay.unmatched.values(), key=lambda task: task.task_id)
    return ReplayResult(
        new_tasks=new_tasks,
        open_task_ids=set(replay.open),
        continue_as_new_input=replay.continue_as_new_input,
        continued_as_new=replay.continued_as_new,
    )


def _first_timestamp(history: list[Event]) -> datetime:
    for event in history:
        if event["EventType"] == EventType.ORCHESTRATOR_STARTED:
            return parse_time(event["Timestamp"])
    return parse_time(history[0]["Timestamp"])
