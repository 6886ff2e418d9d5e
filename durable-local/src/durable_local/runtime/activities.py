"""The activity pipeline: leased activities streamed to the worker, outcomes recorded in batches.

An episode's new activities are leased to this runtime in its own commit; others (released by
a crash or a stop) are claimed from the store up to CLAIM_BATCH at a time. They are handed to
the worker while fewer than the window are out without an outcome, so that it never waits for
the host between two activities and one pipe message carries many; the window is refilled as
soon as outcomes come back, before they are recorded (all those that came back by the next turn
of the loop, in one transaction). After a crash, the activities that can have run unrecorded,
and so run again, are at most the window plus one batch being recorded (the real host:
maxConcurrentActivityFunctions, and no prefetch). The built-in HTTP activity (``call_http``)
runs here, as the extension runs it in the host.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter, deque
from collections.abc import Callable, Iterable
from datetime import datetime

from durable_local.engine import events as ev
from durable_local.engine.events import Event
from durable_local.engine.orchestration.replay import HTTP_ACTIVITY_NAME
from durable_local.functions.registry import FunctionRegistry
from durable_local.runtime.clock import Clock
from durable_local.runtime.http_activity import call_durable_http
from durable_local.store.base import ActivityWorkItem, Store
from durable_local.worker.invoke import ActivityCall, ActivityOutcome
from durable_local.worker.protocol import LanguageWorker, missing_activity

log = logging.getLogger("durable_local.dispatcher")

CLAIM_BATCH = 256
PREFETCH = 2
MIN_WINDOW = 256


def default_activity_window(max_activities: int) -> int:
    """max(2 x the activity concurrency, 256)."""
    return max(PREFETCH * max_activities, MIN_WINDOW)


class ActivityPipeline:
    """Leased activities on their way to the worker and their outcomes on their way to the store.

    ``on_recorded`` is told, after each recording transaction, how many completions each
    instance got; ``wake`` asks the pump to run (claim more, or claim episodes).
    """

    def __init__(
        self,
        registry: FunctionRegistry,
        store: Store,
        clock: Clock,
        worker: LanguageWorker,
        *,
        owner: str,
        lease_seconds: float,
        max_activities: int,
        window: int,
        on_recorded: Callable[[Counter[str]], None],
        wake: Callable[[], None],
    ) -> None:
        self.registry = registry
        self.store = store
        self.clock = clock
        self.worker = worker
        self.owner = owner
        self.lease_seconds = lease_seconds
        self.max_activities = max_activities
        self.window = window
        self._on_recorded = on_recorded
        self._wake = wake
        self._claimed: deque[ActivityWorkItem] = deque()  # leased, not yet sent to the worker
        self._inflight: dict[int, ActivityWorkItem] = {}  # sent, no outcome yet
        self._names: dict[str, str] = {}  # as scheduled -> registered ("": none)
        self._http: set[asyncio.Task[None]] = set()
        self._finished: list[tuple[ActivityWorkItem, Event]] = []  # results not yet recorded
        self._flush: asyncio.Handle | None = None
        self.queued = True  # False once a claim found the store's activity queue drained
        self.stopping = False
        self.recorded = 0

    @property
    def busy(self) -> bool:
        return bool(self._inflight or self._claimed or self._finished)

    @property
    def wants_more(self) -> bool:
        """Fewer than the activity concurrency wait to be sent: claim the next batch."""
        return len(self._claimed) < self.max_activities

    def claim(self, now: datetime) -> None:
        """Claim activities released to the store (a crash, a stop) when the queue may hold
        some and the worker will soon run dry."""
        if self.queued and self.wants_more:
            wanted = CLAIM_BATCH - len(self._claimed)
            claimed = self.store.claim_activities(self.owner, now, self.lease_seconds, wanted)
            if len(claimed) < wanted:
                self.queued = False  # only episodes queue more
            self._claimed.extend(claimed)
        self.send()

    def leased(self, items: Iterable[ActivityWorkItem]) -> None:
        """Activities an episode's commit leased to this runtime."""
        self._claimed.extend(items)
        self.send()

    def send(self) -> None:
        """Hand claimed activities to the worker while fewer than the window are out."""
        room = self.window - len(self._inflight)
        calls: list[ActivityCall] = []
        missing: list[ActivityOutcome] = []
        while room > 0 and self._claimed:
            work = self._claimed.popleft()
            room -= 1
            self._inflight[work.item_id] = work
            name = self._names.get(work.name)
            if name is None:
                function = self.registry.activity(work.name)
                name = "" if function is None else function.name
                self._names[work.name] = name
            if work.name == HTTP_ACTIVITY_NAME:
                call = ActivityCall(work.item_id, work.name, work.input_json)
                task = asyncio.create_task(self._http_activity(call))
                self._http.add(task)
                task.add_done_callback(self._http.discard)
            elif name:
                calls.append(ActivityCall(work.item_id, name, work.input_json))
            else:
                missing.append(missing_activity(ActivityCall(work.item_id, work.name, None)))
        if calls:
            self.worker.submit_activities(calls)
        if missing:
            self.results(missing)

    async def _http_activity(self, call: ActivityCall) -> None:
        try:
            response = await call_durable_http(call.input_json)
        except Exception as exc:
            reason = f"Activity function '{HTTP_ACTIVITY_NAME}' failed:  {exc}"
            outcome = ActivityOutcome(call.key, failure=(reason, str(exc)))
        else:
            outcome = ActivityOutcome(call.key, result_json=response)
        self.results([outcome])

    def results(self, outcomes: list[ActivityOutcome]) -> None:
        """Outcomes from the worker (on the loop): queue their events for the next flush."""
        if self.stopping:
            return  # their leases are released: they run again on the next start
        now = self.clock.now()
        for outcome in outcomes:
            work = self._inflight.pop(outcome.key, None)
            if work is None:
                continue
            if outcome.failure is not None:
                reason, details = outcome.failure
                event = ev.new_task_failed(now, work.task_id, reason, details)
            else:
                event = ev.new_task_completed(now, work.task_id, outcome.result_json)
            self._finished.append((work, event))
        if self._finished and self._flush is None:
            self._flush = asyncio.get_running_loop().call_soon(self.record)
        self.send()
        if self.wants_more:
            self._wake()  # claim the next batch before the worker runs dry

    def record(self) -> None:
        """Record the activity results that came back, in one transaction."""
        self._flush = None
        finished, self._finished = self._finished, []
        if not finished:
            return
        try:
            self.store.complete_activities(finished)
        except Exception:  # the leases stay: the activities run again after a restart
            log.exception("durable-local: recording %d activity results failed", len(finished))
            return
        self.recorded += len(finished)
        self._on_recorded(Counter(work.instance_id for work, _ in finished))

    async def stop(self) -> None:
        """Cancel the HTTP activities (the worker is stopped by the dispatcher)."""
        self.stopping = True
        for task in list(self._http):
            task.cancel()
        if self._http:
            await asyncio.wait(self._http, timeout=5)

    def release(self) -> None:
        """After the worker stopped: record what came back, release the rest to run again."""
        if self._flush is not None:
            self._flush.cancel()
        self.record()  # outcomes already back are recorded
        unfinished = [*self._inflight.values(), *self._claimed]
        self._inflight.clear()
        self._claimed.clear()
        for work in unfinished:
            with contextlib.suppress(Exception):
                self.store.release_activity(work)
