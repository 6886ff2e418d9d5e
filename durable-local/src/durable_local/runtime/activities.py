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

Poison work is bounded: a worker crash is charged to the activities that were running in it
(``crashed``). Those are suspects, sent again one at a time (on probation: beside other work,
but never beside another suspect, activity or episode: ``Probation``); one that has been
running in ``crash_limit`` crashes fails its task with the reason, once the last of them is
conclusive (it was on probation, or the only code running), so that a crash shared with one
poison never fails an innocent activity. The others the worker held run again uncharged. An
instance terminated or purged has its work dropped here and in the worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import Counter, deque
from collections.abc import Callable, Collection, Iterable
from datetime import datetime

from durable_local.engine import events as ev
from durable_local.engine.events import Event
from durable_local.engine.orchestration.replay import HTTP_ACTIVITY_NAME
from durable_local.functions.registry import FunctionRegistry
from durable_local.functions.settings import format_timespan
from durable_local.runtime.clock import Clock
from durable_local.runtime.http_activity import call_durable_http
from durable_local.store.base import ActivityWorkItem, Store
from durable_local.worker.invoke import ActivityCall, ActivityOutcome
from durable_local.worker.protocol import LanguageWorker, WorkerCrash, missing_activity

log = logging.getLogger("durable_local.dispatcher")

CLAIM_BATCH = 256
PREFETCH = 2
MIN_WINDOW = 256
DEFAULT_CRASH_LIMIT = 3
CRASH_EXCEPTION = "Microsoft.Azure.WebJobs.Script.Workers.WorkerProcessExitException"
TIMEOUT_EXCEPTION = "Microsoft.Azure.WebJobs.Host.FunctionTimeoutException"


class Probation:
    """The one suspect (of a worker crash) that may run: an activity or an episode, never both,
    so that a crash while it runs is conclusive evidence against it. ``released`` is called when
    it ends (another suspect may be sent or claimed)."""

    def __init__(self) -> None:
        self.activity: int | None = None
        self.episode: str | None = None
        self.released: Callable[[], None] = lambda: None

    @property
    def busy(self) -> bool:
        return self.activity is not None or self.episode is not None

    def end_activity(self, key: int) -> None:
        if self.activity == key:
            self.activity = None
            self.released()

    def end_episode(self, instance_id: str) -> None:
        if self.episode == instance_id:
            self.episode = None
            self.released()


def timeout_message(timeout: float, function_name: str) -> str:
    """The host's FunctionTimeoutException message."""
    return (
        f"Timeout value of {format_timespan(timeout)} was exceeded by function: "
        f"Functions.{function_name}"
    )


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
        crash_limit: int = DEFAULT_CRASH_LIMIT,
        probation: Probation | None = None,
    ) -> None:
        self.registry = registry
        self.probation = probation or Probation()
        self.store = store
        self.clock = clock
        self.worker = worker
        self.owner = owner
        self.lease_seconds = lease_seconds
        self.max_activities = max_activities
        self.window = window
        self.crash_limit = crash_limit
        self._on_recorded = on_recorded
        self._wake = wake
        self._claimed: deque[ActivityWorkItem] = deque()  # leased, not yet sent to the worker
        self._inflight: dict[int, ActivityWorkItem] = {}  # sent, no outcome yet
        self._crashes: dict[int, int] = {}  # item id -> worker crashes charged to it
        self._suspects: deque[ActivityWorkItem] = deque()  # charged, waiting to be sent again
        self._names: dict[str, str] = {}  # as scheduled -> registered ("": none)
        self._http: set[asyncio.Task[None]] = set()
        self._finished: list[tuple[ActivityWorkItem, Event]] = []  # results not yet recorded
        self._flush: asyncio.Handle | None = None
        self._record_delay = 0.0  # while recording fails: the backoff before the next try
        self.queued = True  # False once a claim found the store's activity queue drained
        self.stopping = False
        self.recorded = 0

    @property
    def busy(self) -> bool:
        return bool(self._inflight or self._claimed or self._finished or self._suspects)

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
        """Hand claimed activities to the worker while fewer than the window are out; of those
        a worker crash was charged to, one at a time."""
        room = self.window - len(self._inflight)
        calls: list[ActivityCall] = []
        missing: list[ActivityOutcome] = []
        if not self.probation.busy and self._suspects and room > 0:
            work = self._suspects.popleft()
            self.probation.activity = work.item_id
            self._dispatch(work, calls, missing)
            room -= 1
        while room > 0 and self._claimed:
            self._dispatch(self._claimed.popleft(), calls, missing)
            room -= 1
        if calls:
            self.worker.submit_activities(calls)
        if missing:
            self.results(missing)

    def _dispatch(
        self, work: ActivityWorkItem, calls: list[ActivityCall], missing: list[ActivityOutcome]
    ) -> None:
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

    def crashed(self, crash: WorkerCrash) -> None:
        """The worker died: charge the crash to what was running, fail what reached the limit,
        queue the rest again (the uncharged first, in their order)."""
        if self.stopping:
            return
        now = self.clock.now()
        again: list[ActivityWorkItem] = []
        probation = self.probation.activity
        for call in crash.lost:
            work = self._inflight.pop(call.key, None)
            if work is None:
                continue
            if work.item_id == probation:
                self.probation.end_activity(work.item_id)
            if call.key in crash.timed_out and crash.timeout is not None:
                self._crashes.pop(work.item_id, None)
                reason = timeout_message(crash.timeout, self._function_name(work.name))
                log.error("durable-local: instance '%s': %s", work.instance_id, reason)
                details = json.dumps({"ClassName": TIMEOUT_EXCEPTION, "Message": reason})
                event = ev.new_task_failed(now, work.task_id, reason, details)
                self._finished.append((work, event))
                continue
            if call.key not in crash.running:
                (self._suspects if work.item_id in self._crashes else again).append(work)
                continue
            count = self._crashes.get(work.item_id, 0) + 1
            conclusive = work.item_id == probation or crash.alone(call.key)
            if count < self.crash_limit or not conclusive:
                self._crashes[work.item_id] = count
                self._suspects.append(work)
                continue
            self._crashes.pop(work.item_id, None)
            reason = f"{crash.exit} while running activity '{work.name}', {count} times"
            log.error("durable-local: instance '%s': %s; its task fails", work.instance_id, reason)
            details = json.dumps({"ClassName": CRASH_EXCEPTION, "Message": reason})
            self._finished.append((work, ev.new_task_failed(now, work.task_id, reason, details)))
        self._claimed.extendleft(reversed(again))
        if self._finished and self._flush is None:
            self._flush = asyncio.get_running_loop().call_soon(self.record)
        self.send()

    def _function_name(self, name: str) -> str:
        function = self.registry.activity(name)
        return function.function_name if function is not None else name

    def drop_instances(self, instance_ids: Collection[str]) -> None:
        """Forget the pending work of instances terminated or purged, the worker's included."""
        if not instance_ids:
            return
        self._claimed = deque(w for w in self._claimed if w.instance_id not in instance_ids)
        for work in self._suspects:
            if work.instance_id in instance_ids:
                self._crashes.pop(work.item_id, None)
        self._suspects = deque(w for w in self._suspects if w.instance_id not in instance_ids)
        dropped = [k for k, w in self._inflight.items() if w.instance_id in instance_ids]
        for key in dropped:
            del self._inflight[key]
            self._crashes.pop(key, None)
            self.probation.end_activity(key)
        if dropped:
            self.worker.cancel_activities(dropped)
            self.send()

    def instances(self) -> set[str]:
        """The instances this pipeline holds work for."""
        return {w.instance_id for w in (*self._claimed, *self._suspects, *self._inflight.values())}

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
            self.probation.end_activity(outcome.key)
            if self._crashes:
                self._crashes.pop(outcome.key, None)
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
        except Exception:  # kept (their leases too): recorded when the store takes them
            if self._record_delay == 0.0:
                log.exception(
                    "durable-local: recording %d activity results failed; retrying", len(finished)
                )
            self._record_delay = min(max(self._record_delay * 2, 0.1), 5.0)
            self._finished = finished + self._finished
            if self._flush is None:
                loop = asyncio.get_running_loop()
                self._flush = loop.call_later(self._record_delay, self.record)
            return
        if self._record_delay:
            log.warning("durable-local: activity results are recorded again")
            self._record_delay = 0.0
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
        unfinished = [*self._inflight.values(), *self._claimed, *self._suspects]
        self._inflight.clear()
        self._claimed.clear()
        self._suspects.clear()
        for work in unfinished:
            with contextlib.suppress(Exception):
                self.store.release_activity(work)
