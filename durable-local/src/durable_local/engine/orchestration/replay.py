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
from datetime import datetime, timedelta
from typing import Any

from durable_local.engine.events import Event
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
MAX_RETRY_INTERVAL = timedelta(days=6)  # EXT RetryOptions default
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


@dataclass(slots=True)
class ScheduledTask:
    """An id-consuming operation the emulation scheduled: matched against history or new."""

    task_id: int
    kind: str  # activity | suborchestration | timer
    name: str
    input_json: str | None = None
    instance_id: str | None = None
    fire_at: datetime | None = None
    cancelled: bool = False


@dataclass
class ReplayResult:
    new_tasks: list[ScheduledTask]
    open_task_ids: set[int]
    continue_as_new_input: str | None
    continued_as_new: bool


class _Node:
    """A task in the emulated DTFx context; reports its outcome to its parent once."""

    __slots__ = ("done", "parent", "replay", "succeeded")

    def __init__(self, replay: _Replay, parent: _Node | None) -> None:
        self.replay = replay
        self.parent = parent
        self.done = False
        self.succeeded = False

    def start(self) -> None:
        raise NotImplementedError

    def finish(self, succeeded: bool) -> None:
        if self.done:
            return
        self.done = True
        self.succeeded = succeeded
        if self.parent is not None:
            self.parent.child_done(self)

    def child_done(self, child: _Node) -> None:
        raise NotImplementedError


class _Leaf(_Node):
    """Activity, sub-orchestration or timer: completes on the history event carrying its id."""

    __slots__ = ("task",)

    def __init__(self, replay: _Replay, parent: _Node | None, task: ScheduledTask) -> None:
        # _Node.__init__ inlined: a fan-out builds thousands of leaves per replay.
        self.replay = replay
        self.parent = parent
        self.done = False
        self.succeeded = False
        self.task = task

    def start(self) -> None:
        self.replay.schedule(self)


class _Immediate(_Node):
    """Completes as soon as it starts (ContinueAsNew)."""

    def start(self) -> None:
        self.finish(True)


class _EventWait(_Node):
    def __init__(self, replay: _Replay, parent: _Node | None, name: str) -> None:
        super().__init__(replay, parent)
        self.name = name

    def start(self) -> None:
        self.replay.wait_for_event(self)


class _WhenAll(_Node):
    def __init__(self, replay: _Replay, parent: _Node | None, children: list[_Node]) -> None:
        super().__init__(replay, parent)
        self.children = children
        self.remaining = len(children)

    def start(self) -> None:
        if not self.children:
            self.finish(True)
            return
        for child in self.children:
            child.start()

    def child_done(self, child: _Node) -> None:
        if not child.succeeded:
            self.finish(False)
            return
        self.remaining -= 1
        if self.remaining == 0:
            self.finish(True)


class _WhenAny(_WhenAll):
    def child_done(self, child: _Node) -> None:
        self.finish(True)


class _Retry(_Node):
    """DTFx RetryInterceptor (spec §7.6): attempt, wait a timer, attempt again; after the last
    failed attempt an immediate "dummy" timer, then fail."""

    def __init__(
        self,
        replay: _Replay,
        parent: _Node | None,
        make_attempt: Callable[[_Node], _Leaf],
        options: dict[str, Any],
    ) -> None:
        super().__init__(replay, parent)
        self.make_attempt = make_attempt
        self.max_attempts = max(1, int(options.get("maxNumberOfAttempts") or 1))
        self.first_interval = timedelta(
            milliseconds=float(options.get("firstRetryIntervalInMilliseconds") or 0)
        )
        self.backoff = float(options.get("backoffCoefficient") or 1.0)
        max_interval = options.get("maxRetryIntervalInMilliseconds")
        self.max_interval = (
            timedelta(milliseconds=float(max_interval)) if max_interval else MAX_RETRY_INTERVAL
        )
        timeout = options.get("retryTimeoutInMilliseconds")
        self.timeout = timedelta(milliseconds=float(timeout)) if timeout else None
        self.attempt = 0
        self.first_attempt_at: datetime | None = None
        self.current: _Node | None = None
        self.final_timer = False

    def start(self) -> None:
        self.first_attempt_at = self.replay.now
        self._attempt()

    def _attempt(self) -> None:
        self.current = self.make_attempt(self)
        self.current.start()

    def child_done(self, child: _Node) -> None:
        if isinstance(child, _Leaf) and child.task.kind == "timer":
            if self.final_timer:
                self.finish(False)
            else:
                self.attempt += 1
                self._attempt()
            return
        if child.succeeded:
            self.finish(True)
            return
        now = self.replay.now
        if self.attempt + 1 >= self.max_attempts:
            # "Dummy timer for back-compat": fires at once; the SDK waits for it (spec §7.6).
            self.final_timer = True
            self._timer(now)
            return
        delay = self.first_interval * (self.backoff**self.attempt)
        delay = min(delay, self.max_interval)
        assert self.first_attempt_at is not None
        if self.timeout is not None and now >= self.first_attempt_at + self.timeout:
            self.finish(False)
            return
        self._timer(now + delay)

    def _timer(self, fire_at: datetime) -> None:
        timer = self.replay.new_timer(self, fire_at)
        timer.start()


class _Sequence(_Node):
    """Top-level actions: each starts once the previous one finished (EXT ProcessAsyncActionsV2)."""

    def __init__(self, replay: _Replay, actions: list[dict[str, Any]]) -> None:
        super().__init__(replay, None)
        self.actions = actions
        self.index = 0
        self.running = False

    def start(self) -> None:
        self._run()

    def _run(self) -> None:
        self.running = True
        try:
            while self.index < len(self.actions):
                node = self.replay.build(self.actions[self.index], self)
                self.index += 1
                node.start()
                if not node.done:
                    return
            self.done = True
        finally:
            self.running = False

    def child_done(self, child: _Node) -> None:
        # A child that completes while ``_run`` starts it is noticed by ``_run`` itself.
        if not self.running:
            self._run()


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
    open: dict[int, _Leaf] = field(default_factory=dict)
    waiters: dict[str, deque[_EventWait]] = field(default_factory=dict)
    buffered: dict[str, deque[Event]] = field(default_factory=dict)
    continue_as_new_input: str | None = None
    continued_as_new: bool = False
    activity_names: set[str] = field(default_factory=set)  # checked by known_activities

    # -- scheduling -----------------------------------------------------------------------
    def take_id(self) -> int:
        task_id = self.next_id
        self.next_id += 1
        return task_id

    def schedule(self, leaf: _Leaf) -> None:
        self.unmatched[leaf.task.task_id] = leaf.task
        if leaf.task.cancelled:
            # A cancelled timer is removed from the open tasks and counts as completed (.NET).
            leaf.finish(True)
        else:
            self.open[leaf.task.task_id] = leaf

    def new_timer(self, parent: _Node | None, fire_at: datetime, cancelled: bool = False) -> _Leaf:
        task = ScheduledTask(self.take_id(), "timer", "", fire_at=fire_at, cancelled=cancelled)
        return _Leaf(self, parent, task)

    def wait_for_event(self, waiter: _EventWait) -> None:
        key = waiter.name.lower()
        queue = self.buffered.get(key)
        if queue:
            queue.popleft()
            waiter.finish(True)
            return
        self.waiters.setdefault(key, deque()).append(waiter)

    # -- building nodes from SDK actions ---------------------------------------------------
    def build(self, action: dict[str, Any], parent: _Node | None) -> _Node:
        kind = action.get("actionType")
        if kind == ActionType.CALL_ACTIVITY:
            return self._activity_leaf(action, parent)
        if kind == ActionType.CALL_HTTP:
            return self._http_leaf(action, parent)
        if kind == ActionType.CALL_ACTIVITY_WITH_RETRY:
            return _Retry(
                self,
                parent,
                lambda retry: self._activity_leaf(action, retry),
                action.get("retryOptions") or {},
            )
        if kind == ActionType.CALL_SUB_ORCHESTRATOR:
            return self._sub_orchestration_leaf(action, parent)
        if kind == ActionType.CALL_SUB_ORCHESTRATOR_WITH_RETRY:
            return _Retry(
                self,
                parent,
                lambda retry: self._sub_orchestration_leaf(action, retry),
                action.get("retryOptions") or {},
            )
        if kind == ActionType.CREATE_TIMER:
            fire_at = parse_time(str(action.get("fireAt")))
            return self.new_timer(parent, fire_at, bool(action.get("isCanceled")))
        if kind == ActionType.WAIT_FOR_EXTERNAL_EVENT:
            return _EventWait(self, parent, str(action.get("externalEventName") or ""))
        if kind == ActionType.CONTINUE_AS_NEW:
            self.continued_as_new = True
            self.continue_as_new_input = action.get("input")
            return _Immediate(self, parent)
        if kind in (ActionType.WHEN_ALL, ActionType.WHEN_ANY):
            node_type = _WhenAll if kind == ActionType.WHEN_ALL else _WhenAny
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

    def _activity_leaf(self, action: dict[str, Any], parent: _Node | None) -> _Leaf:
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
        return _Leaf(self, parent, ScheduledTask(task_id, "activity", name, action.get("input")))

    def _http_leaf(self, action: dict[str, Any], parent: _Node | None) -> _Leaf:
        request = json.dumps(action.get("httpRequest") or {})
        task = ScheduledTask(self.take_id(), "activity", HTTP_ACTIVITY_NAME, input_json=request)
        return _Leaf(self, parent, task)

    def _sub_orchestration_leaf(self, action: dict[str, Any], parent: _Node | None) -> _Leaf:
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
        )
        return _Leaf(self, parent, task)

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
    sequence = _Sequence(replay, actions)
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
