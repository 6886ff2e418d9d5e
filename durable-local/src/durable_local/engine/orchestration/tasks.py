"""The tasks of the emulated DTFx orchestration context: leaves (activity, sub-orchestration,
timer), event waits, WhenAll/WhenAny, the retry interceptor and the top-level sequence. Each
reports its outcome to its parent once; the replay (``replay``) drives them against history."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

MAX_RETRY_INTERVAL = timedelta(days=6)  # EXT RetryOptions default


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
    version: str | None = None  # a sub-orchestration's explicit version


class ReplayContext(Protocol):
    """What a task asks of the replay that runs it."""

    @property
    def now(self) -> datetime: ...

    def schedule(self, leaf: Leaf) -> None: ...

    def wait_for_event(self, waiter: EventWait) -> None: ...

    def new_timer(
        self, parent: Node | None, fire_at: datetime, cancelled: bool = False
    ) -> Leaf: ...

    def build(self, action: dict[str, Any], parent: Node | None) -> Node: ...


class Node:
    """A task in the emulated DTFx context; reports its outcome to its parent once."""

    __slots__ = ("done", "parent", "replay", "succeeded")

    def __init__(self, replay: ReplayContext, parent: Node | None) -> None:
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

    def child_done(self, child: Node) -> None:
        raise NotImplementedError


class Leaf(Node):
    """Activity, sub-orchestration or timer: completes on the history event carrying its id."""

    __slots__ = ("task",)

    def __init__(self, replay: ReplayContext, parent: Node | None, task: ScheduledTask) -> None:
        # Node.__init__ inlined: a fan-out builds thousands of leaves per replay.
        self.replay = replay
        self.parent = parent
        self.done = False
        self.succeeded = False
        self.task = task

    def start(self) -> None:
        self.replay.schedule(self)


class Immediate(Node):
    """Completes as soon as it starts (ContinueAsNew)."""

    def start(self) -> None:
        self.finish(True)


class EventWait(Node):
    """``wait_for_external_event``: completes on the next EventRaised of its name."""

    def __init__(self, replay: ReplayContext, parent: Node | None, name: str) -> None:
        super().__init__(replay, parent)
        self.name = name

    def start(self) -> None:
        self.replay.wait_for_event(self)


class WhenAll(Node):
    """``task_all``: completes when every child succeeded, fails with the first failure."""

    def __init__(self, replay: ReplayContext, parent: Node | None, children: list[Node]) -> None:
        super().__init__(replay, parent)
        self.children = children
        self.remaining = len(children)

    def start(self) -> None:
        if not self.children:
            self.finish(True)
            return
        for child in self.children:
            child.start()

    def child_done(self, child: Node) -> None:
        if not child.succeeded:
            self.finish(False)
            return
        self.remaining -= 1
        if self.remaining == 0:
            self.finish(True)


class WhenAny(WhenAll):
    """``task_any``: completes with the first child to finish."""

    def child_done(self, child: Node) -> None:
        self.finish(True)


class Retry(Node):
    """DTFx RetryInterceptor (spec §7.6): attempt, wait a timer, attempt again; after the last
    failed attempt an immediate "dummy" timer, then fail."""

    def __init__(
        self,
        replay: ReplayContext,
        parent: Node | None,
        make_attempt: Callable[[Node], Leaf],
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
        self.current: Node | None = None
        self.final_timer = False

    def start(self) -> None:
        self.first_attempt_at = self.replay.now
        self._attempt()

    def _attempt(self) -> None:
        self.current = self.make_attempt(self)
        self.current.start()

    def child_done(self, child: Node) -> None:
        if isinstance(child, Leaf) and child.task.kind == "timer":
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


class Sequence(Node):
    """Top-level actions: each starts once the previous one finished (EXT ProcessAsyncActionsV2)."""

    def __init__(self, replay: ReplayContext, actions: list[dict[str, Any]]) -> None:
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

    def child_done(self, child: Node) -> None:
        # A child that completes while ``_run`` starts it is noticed by ``_run`` itself.
        if not self.running:
            self._run()
