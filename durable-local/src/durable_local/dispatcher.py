"""The dispatcher: claim work, hand it to the language worker, run the engine, commit.

One asyncio task (the pump) claims orchestration work items (an instance with visible messages)
up to the configured concurrency and activity work items in batches, and sleeps until new work
is queued, a timer becomes due, or the clock jumps. User code runs in the language worker
(``durable_local.worker``): each episode's SDK replay is one call, activities are streamed to it
(a window of max(2 x its concurrency, 256) at a time) and their outcomes come back in batches,
which are recorded a batch per transaction. The built-in HTTP activity (``call_http``) runs
here, as the extension runs it in the host.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections import Counter, OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from durable_local.clock import Clock
from durable_local.engine import events as ev
from durable_local.engine.episode import (
    EpisodeOutcome,
    InstanceState,
    ParentLink,
    SdkState,
    build_context_json,
    decide,
    parse_sdk_output,
    plan_episode,
)
from durable_local.engine.events import Event, played_text
from durable_local.engine.replay import HTTP_ACTIVITY_NAME
from durable_local.invoker import ActivityCall, ActivityOutcome, call_durable_http
from durable_local.model import EventType, RuntimeStatus, format_event_time
from durable_local.registry import FunctionRegistry
from durable_local.store import (
    ActivityRequest,
    ActivityWorkItem,
    ChildStart,
    EpisodeCommit,
    InstanceRecord,
    LeaseLost,
    OrchestrationWorkItem,
    OutboundMessage,
    Store,
)
from durable_local.worker import InProcessWorker, LanguageWorker, missing_activity

log = logging.getLogger("durable_local.dispatcher")

# One runtime owns a store; leases only matter after a crash (released at start), so they are
# long enough never to expire under a live runtime.
LEASE_SECONDS = 24 * 3600.0
HISTORY_CACHE_SIZE = 2048
# Batching: while an instance still waits for its own activities or children, its next episode
# is held back for up to HOLD_FACTOR times its expected replay (its last one, scaled by the
# history's growth since; never more than MAX_HOLD seconds),
# so a fan-in is replayed a few times instead of once per trickle of completions. This only
# changes how messages are batched (spec §7.9), never what an episode does with them.
HOLD_FACTOR = 2.0
MAX_HOLD = 1.0
# An episode's new activities are leased to this dispatcher in its commit; others (released by
# a crash or a stop) are claimed from the store up to ACTIVITY_CLAIM_BATCH at a time. They are
# handed to the worker while fewer than the activity window are out without an outcome, so that
# it never waits for the host between two activities and one pipe message carries many; the
# window is refilled as soon as outcomes come back, before they are recorded (all those that
# came back by the next turn of the loop, in one transaction). After a crash, the activities
# that can have run unrecorded, and so run again, are at most the window plus one batch being
# recorded (the real host: maxConcurrentActivityFunctions, and no prefetch).
ACTIVITY_CLAIM_BATCH = 256
ACTIVITY_PREFETCH = 2
MIN_ACTIVITY_WINDOW = 256


def default_activity_window(max_activities: int) -> int:
    return max(ACTIVITY_PREFETCH * max_activities, MIN_ACTIVITY_WINDOW)


@dataclass
class _CachedHistory:
    execution_id: str
    texts: list[str]
    events: list[Event]


class Dispatcher:
    def __init__(
        self,
        registry: FunctionRegistry,
        store: Store,
        clock: Clock,
        *,
        max_concurrent_activities: int = 10,
        max_concurrent_orchestrations: int = 10,
        app_dir: str = ".",
        worker: LanguageWorker | None = None,
        activity_window: int | None = None,
    ) -> None:
        if max_concurrent_activities < 1 or max_concurrent_orchestrations < 1:
            raise ValueError("concurrency limits must be at least 1")
        if activity_window is not None and activity_window < max_concurrent_activities:
            raise ValueError("the activity window must be at least the activity concurrency")
        self.registry = registry
        self.store = store
        self.clock = clock
        self.app_dir = app_dir
        self.max_activities = max_concurrent_activities
        self.max_orchestrations = max_concurrent_orchestrations
        self.owner = uuid.uuid4().hex
        self._wake = asyncio.Event()
        self._episodes: set[asyncio.Task[None]] = set()
        self._http_activities: set[asyncio.Task[None]] = set()
        self.worker: LanguageWorker = worker or InProcessWorker(
            registry,
            max_activities=max_concurrent_activities,
            max_orchestrations=max_concurrent_orchestrations,
            app_dir=app_dir,
        )
        self._hold_streams = self.worker.shares_host_process
        self._window = activity_window or default_activity_window(max_concurrent_activities)
        self._claimed: deque[ActivityWorkItem] = deque()  # leased, not yet sent to the worker
        self._inflight: dict[int, ActivityWorkItem] = {}  # sent, no outcome yet
        self._activity_names: dict[str, str] = {}  # as scheduled -> registered ("": none)
        self._pump: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._unsubscribe: Callable[[], None] = lambda: None
        self._cache: OrderedDict[str, _CachedHistory] = OrderedDict()
        self._outstanding: dict[str, int] = {}  # activities + children per instance
        self._ready_since: dict[str, float] = {}  # loop time of the first unseen completion
        self._running: set[str] = set()  # instances with an episode in progress
        self._streams: set[str] = set()  # instances sent events while their episode ran
        self._last_replay: dict[str, float] = {}
        # History length the last replay saw, and after its commit: an episode that scheduled a
        # large fan-out replayed a short history, and the next replay will cost that much more.
        self._replayed_len: dict[str, int] = {}
        self._committed_len: dict[str, int] = {}
        self._next_hold: float | None = None
        self._held_before: dict[str, float] = {}
        # Claiming an episode scans the visible messages, which is costly while thousands of
        # completions wait for a held instance. The pump only claims when something may have
        # made an instance claimable since its last empty claim: a wake from a client, a
        # finished episode, a completion for an instance not held, a hold or timer running out.
        self._claim_dirty = True
        self._activities_queued = True  # False once a claim found the activity queue drained
        self._finished: list[tuple[ActivityWorkItem, Event]] = []  # results not yet recorded
        self._flush: asyncio.Handle | None = None
        self.orchestrator_seconds = 0.0  # time inside the SDK handle (the replay floor)
        # The same as CPU time of the calling threads: concurrent episodes wait for each other's
        # GIL slices, which the wall time above counts once per waiting thread.
        self.orchestrator_cpu_seconds = 0.0
        self.episodes_run = 0
        self.activities_run = 0
        self.stopping = False

    # -- lifecycle -----------------------------------------------------------------------------
    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.store.release_all_leases()
        await self.worker.start(self._activity_results)
        self._unsubscribe = self.clock.on_change(self.wake_threadsafe)
        self._pump = asyncio.create_task(self._run(), name="durable-local-pump")

    async def stop(self) -> None:
        self.stopping = True
        self._unsubscribe()
        if self._pump is not None:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump
        if self._episodes:
            # Episodes are short: let them commit so no replay is wasted.
            await asyncio.wait(self._episodes, timeout=10)
        for task in list(self._http_activities):
            task.cancel()
        if self._http_activities:
            await asyncio.wait(self._http_activities, timeout=5)
        await self.worker.stop()
        # Outcomes already back are recorded; the rest run again on the next start.
        if self._flush is not None:
            self._flush.cancel()
        self._record_finished()
        unfinished = [*self._inflight.values(), *self._claimed]
        self._inflight.clear()
        self._claimed.clear()
        for work in unfinished:
            with contextlib.suppress(Exception):
                self.store.release_activity(work)

    def wake(self) -> None:
        self._claim_dirty = True
        self._activities_queued = True
        self._wake.set()

    def event_raised(self, instance_id: str) -> None:
        """A client queued an event for ``instance_id``.

        With a worker in the host process, events that arrive while the instance's episode
        runs are a stream: its next episode is held like a fan-in's (HOLD_FACTOR times its last
        replay, at most MAX_HOLD), so a burst is applied in a few episodes instead of one
        whole-history replay per event (spec §7.9): every replay there takes the GIL from the
        HTTP server that is receiving the burst. A worker process replays on a core of its own,
        so the next episode is claimed as soon as the running one ends, as DTFx does (holding
        would only leave that core idle). An event for an instance that is not running is
        applied at once.
        """
        if instance_id in self._running and self._loop is not None and self._hold_streams:
            self._streams.add(instance_id)
            self._ready_since.setdefault(instance_id, self._loop.time())
        if instance_id in self._running or instance_id in self._held_before:
            # Not claimable now; the end of its episode or of its hold wakes the pump.
            return
        self.wake()

    def wake_threadsafe(self) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self.wake)

    @property
    def busy(self) -> bool:
        return bool(self._episodes or self._inflight or self._claimed or self._finished)

    # -- the pump ------------------------------------------------------------------------------
    async def _run(self) -> None:
        while True:
            self._wake.clear()
            try:
                self._fill()
            except Exception:  # a store error must not kill the pump; retry shortly
                log.exception("durable-local: claiming work failed")
                self._claim_dirty = True
                await asyncio.sleep(0.5)
                continue
            timeout: float | None = None
            due = self.store.next_visible_at(self.clock.now())
            if due is not None:
                timeout = self.clock.seconds_until(due)
            if self._next_hold is not None:
                hold = max(0.0, self._next_hold - asyncio.get_running_loop().time())
                timeout = hold if timeout is None else min(timeout, hold)
            if timeout == 0.0:
                self._claim_dirty = True
                continue
            try:
                await asyncio.wait_for(self._wake.wait(), timeout)
            except TimeoutError:
                self._claim_dirty = True  # a timer became due or a hold ran out

    def _held(self) -> dict[str, float]:
        """Instances whose next episode waits for more of their own completions: deadline."""
        now = asyncio.get_running_loop().time()
        held = {}
        for instance_id, since in list(self._ready_since.items()):
            if self._outstanding.get(instance_id, 0) <= 0 and instance_id not in self._streams:
                continue
            hold = min(MAX_HOLD, HOLD_FACTOR * self._next_replay(instance_id))
            if since + hold > now:
                held[instance_id] = since + hold
        return held

    def _next_replay(self, instance_id: str) -> float:
        """The expected cost of the instance's next replay: its last one, scaled by how much its
        history grew in that episode (replay time is linear in the history's length)."""
        last = self._last_replay.get(instance_id, 0.0)
        replayed = self._replayed_len.get(instance_id, 0)
        grown = self._committed_len.get(instance_id, 0) / replayed if replayed else 1.0
        return last * max(1.0, grown)

    def _fill(self) -> None:
        now = self.clock.now()
        held = self._held()
        self._next_hold = min(held.values(), default=None)
        if not self._held_before.keys() <= held.keys():
            self._claim_dirty = True  # an instance is no longer held back
        self._held_before = held
        while self._claim_dirty and len(self._episodes) < self.max_orchestrations:
            item = self.store.claim_orchestration(self.owner, now, LEASE_SECONDS, held.keys())
            if item is None:
                self._claim_dirty = False
                break
            self._ready_since.pop(item.instance.instance_id, None)
            self._streams.discard(item.instance.instance_id)
            self._running.add(item.instance.instance_id)
            self._spawn(self._episodes, self._episode(item))
        if self._activities_queued and len(self._claimed) < self.max_activities:
            wanted = ACTIVITY_CLAIM_BATCH - len(self._claimed)
            claimed = self.store.claim_activities(self.owner, now, LEASE_SECONDS, wanted)
            if len(claimed) < wanted:
                self._activities_queued = False  # only episodes queue more
            self._claimed.extend(claimed)
        self._send_activities()

    def _spawn(self, bucket: set[asyncio.Task[None]], coro: object) -> None:
        task: asyncio.Task[None] = asyncio.create_task(coro)  # type: ignore[arg-type]
        bucket.add(task)

        def done(finished: asyncio.Task[None]) -> None:
            bucket.discard(finished)
            self._wake.set()

        task.add_done_callback(done)

    # -- episodes ------------------------------------------------------------------------------
    def _history(self, record: InstanceRecord) -> _CachedHistory:
        cached = self._cache.get(record.instance_id)
        if cached is None or cached.execution_id != record.execution_id:
            cached = _CachedHistory(record.execution_id, [], [])
        if len(cached.texts) > record.history_len:  # rewritten (rewind): start over
            cached = _CachedHistory(record.execution_id, [], [])
        if len(cached.texts) < record.history_len:
            more = self.store.load_history(record.instance_id, len(cached.texts))
            cached.texts.extend(more)
            cached.events.extend(json.loads(text) for text in more)
        self._cache[record.instance_id] = cached
        self._cache.move_to_end(record.instance_id)
        while len(self._cache) > HISTORY_CACHE_SIZE:
            self._cache.popitem(last=False)
        return cached

    async def _episode(self, item: OrchestrationWorkItem) -> None:
        record = item.instance
        try:
            await self._run_episode(item)
        except LeaseLost:
            log.warning("durable-local: lost the lease on %s; its episode is dropped", record)
            self._cache.pop(record.instance_id, None)
        except Exception:
            log.exception("durable-local: episode of instance '%s' failed", record.instance_id)
            self._cache.pop(record.instance_id, None)
            with contextlib.suppress(Exception):
                self.store.release_orchestration(item)
            await asyncio.sleep(0.2)  # do not spin on a poisoned work item
        finally:
            self._running.discard(record.instance_id)
            self._claim_dirty = True  # the lease is released; the commit may have queued work

    async def _run_episode(self, item: OrchestrationWorkItem) -> None:
        record = item.instance
        history = self._history(record)
        now = self.clock.now()
        state = InstanceState(
            instance_id=record.instance_id,
            name=record.name,
            execution_id=record.execution_id,
            status=record.status,
            parent=record.parent,
        )
        plan = plan_episode(state, record.history_len == 0, item.messages, now)
        all_events = history.events + plan.new_events
        # The queued JSON of each message's event: not encoded again for the SDK or the history.
        queued = {id(m.event): m.text for m in item.messages if m.text is not None}
        sdk: SdkState | None = None
        if plan.invoke_orchestrator:
            new_texts = [queued.get(id(event)) for event in plan.new_events]
            sdk = await self._call_orchestrator(record, history, plan.new_events, new_texts)
        outcome = decide(
            state=state,
            plan=plan,
            history=all_events,
            sdk=sdk,
            now=now,
            known_activities=self._known_activity,
            known_orchestrators=lambda name: self.registry.orchestrator(name) is not None,
        )
        commit = self._commit_for(record, outcome, now)
        # Encoded once, for the store and for the history cache.
        commit.appended_texts = [
            played_text(event, queued.get(id(event))) for event in outcome.appended
        ]
        if record.status.is_terminal:
            # Late messages for a finished instance are discarded: it is not updated (§2.2).
            commit.updated = record.updated
        # The new activities are leased to this dispatcher in the same transaction: no claim.
        commit.lease_owner = self.owner
        commit.lease_until = now + timedelta(seconds=LEASE_SECONDS)
        leased = self.store.commit_episode(item, commit)
        self.episodes_run += 1
        self._committed_len[record.instance_id] = record.history_len
        self._track(record, commit)
        if leased:
            self._claimed.extend(leased)
            self._send_activities()
        if commit.finished or commit.new_execution_id is not None:
            self._cache.pop(record.instance_id, None)
        else:
            history.texts.extend(commit.appended_texts)
            history.events.extend(outcome.appended)

    def _track(self, record: InstanceRecord, commit: EpisodeCommit) -> None:
        instance_id = record.instance_id
        if commit.finished or commit.new_execution_id is not None:
            self._outstanding.pop(instance_id, None)
            self._last_replay.pop(instance_id, None)
            self._replayed_len.pop(instance_id, None)
            self._committed_len.pop(instance_id, None)
            self._ready_since.pop(instance_id, None)
            self._streams.discard(instance_id)
        else:
            started = len(commit.activities) + len(commit.children)
            if started:
                self._outstanding[instance_id] = self._outstanding.get(instance_id, 0) + started
        if commit.finished and record.parent is not None:
            self._completed_one(record.parent.instance_id)

    def _completed_one(self, instance_id: str, count: int = 1) -> None:
        """``count`` completions for ``instance_id`` were queued by this runtime."""
        if instance_id in self._outstanding:
            self._outstanding[instance_id] = max(0, self._outstanding[instance_id] - count)
            if instance_id not in self._ready_since:
                self._ready_since[instance_id] = asyncio.get_running_loop().time()

    def _known_activity(self, name: str) -> bool:
        return name == HTTP_ACTIVITY_NAME or self.registry.activity(name) is not None

    async def _call_orchestrator(
        self,
        record: InstanceRecord,
        history: _CachedHistory,
        new_events: list[Event],
        new_texts: list[str | None],
    ) -> SdkState:
        function = self.registry.orchestrator(record.name)
        if function is None:
            return SdkState(
                error=f"The function '{record.name}' doesn't exist, is disabled, or is not an "
                "orchestrator function."
            )
        started = next(
            (e for e in history.events if e["EventType"] == EventType.EXECUTION_STARTED), None
        )
        replaying = started is not None
        if started is None:
            started = next(e for e in new_events if e["EventType"] == EventType.EXECUTION_STARTED)
        context_json = build_context_json(
            past_event_texts=history.texts,
            new_events=new_events,
            new_event_texts=new_texts,
            input_json=started.get("Input"),
            instance_id=record.instance_id,
            parent_instance_id=record.parent.instance_id if record.parent else None,
            is_replaying=replaying,
        )
        result = await self.worker.call_orchestrator(function, context_json)
        # Timed by the worker around the handle call: sending the call, the thread hop and the
        # loop's latency in picking the result up are host overhead, not part of the floor.
        self.orchestrator_seconds += result.seconds
        self.orchestrator_cpu_seconds += result.cpu_seconds
        self._last_replay[record.instance_id] = result.seconds
        self._replayed_len[record.instance_id] = len(history.events) + len(new_events)
        return parse_sdk_output(result.returned, result.error)

    def _commit_for(
        self, record: InstanceRecord, outcome: EpisodeOutcome, now: datetime
    ) -> EpisodeCommit:
        commit = EpisodeCommit(
            appended=outcome.appended,
            consumed=outcome.consumed,
            status=outcome.status,
            updated=now,
            custom_status=outcome.custom_status,
            custom_status_changed=outcome.custom_status_changed,
        )
        commit.activities = [
            ActivityRequest(task.task_id, task.name, task.input_json) for task in outcome.activities
        ]
        for timer in outcome.timers:
            assert timer.fire_at is not None
            fire_at = format_event_time(timer.fire_at)
            commit.messages.append(
                OutboundMessage(
                    instance_id=record.instance_id,
                    event=ev.new_timer_fired(timer.fire_at, timer.task_id, fire_at),
                    execution_id=record.execution_id,
                    visible_at=timer.fire_at,
                )
            )
        for task in outcome.sub_orchestrations:
            assert task.instance_id is not None
            child_execution = uuid.uuid4().hex
            child_input = None if task.input_json is None else json.dumps(task.input_json)
            parent = ParentLink(record.instance_id, record.execution_id, task.task_id, record.name)
            child = InstanceRecord(
                instance_id=task.instance_id,
                name=self._orchestrator_name(task.name),
                execution_id=child_execution,
                status=RuntimeStatus.PENDING,
                input_json=child_input,
                created=now,
                updated=now,
                parent=parent,
            )
            start = ev.new_execution_started(
                now,
                instance_id=task.instance_id,
                execution_id=child_execution,
                name=child.name,
                input_json=child_input,
                parent=ev.new_parent_instance(
                    name=record.name,
                    task_id=task.task_id,
                    instance_id=record.instance_id,
                    execution_id=record.execution_id,
                ),
            )
            commit.children.append(ChildStart(child, start, task.task_id))
        if outcome.parent_event is not None and record.parent is not None:
            commit.messages.append(
                OutboundMessage(
                    instance_id=record.parent.instance_id,
                    event=outcome.parent_event,
                    execution_id=record.parent.execution_id,
                )
            )
        if outcome.continued_as_new:
            new_execution = uuid.uuid4().hex
            raw = outcome.continue_as_new_input
            new_input = None if raw is None else json.dumps(raw)
            commit.new_execution_id = new_execution
            commit.new_input_json = new_input
            commit.new_execution_start = ev.new_execution_started(
                now,
                instance_id=record.instance_id,
                execution_id=new_execution,
                name=record.name,
                input_json=new_input,
            )
        if outcome.completion is not None:
            commit.finished = True
            commit.output = outcome.completion.output
            commit.failure_details = outcome.completion.details
        return commit

    def _orchestrator_name(self, name: str) -> str:
        function = self.registry.orchestrator(name)
        return function.name if function is not None else name

    # -- activities ----------------------------------------------------------------------------
    def _send_activities(self) -> None:
        """Hand claimed activities to the worker while fewer than the window are out."""
        room = self._window - len(self._inflight)
        calls: list[ActivityCall] = []
        missing: list[ActivityOutcome] = []
        while room > 0 and self._claimed:
            work = self._claimed.popleft()
            room -= 1
            self._inflight[work.item_id] = work
            name = self._activity_names.get(work.name)
            if name is None:
                function = self.registry.activity(work.name)
                name = "" if function is None else function.name
                self._activity_names[work.name] = name
            if work.name == HTTP_ACTIVITY_NAME:
                call = ActivityCall(work.item_id, work.name, work.input_json)
                task = asyncio.create_task(self._http_activity(call))
                self._http_activities.add(task)
                task.add_done_callback(self._http_activities.discard)
            elif name:
                calls.append(ActivityCall(work.item_id, name, work.input_json))
            else:
                missing.append(missing_activity(ActivityCall(work.item_id, work.name, None)))
        if calls:
            self.worker.submit_activities(calls)
        if missing:
            self._activity_results(missing)

    async def _http_activity(self, call: ActivityCall) -> None:
        """The extension's built-in HTTP activity (``call_http``) runs in the host."""
        try:
            response = await call_durable_http(call.input_json)
        except Exception as exc:
            reason = f"Activity function '{HTTP_ACTIVITY_NAME}' failed:  {exc}"
            outcome = ActivityOutcome(call.key, failure=(reason, str(exc)))
        else:
            outcome = ActivityOutcome(call.key, result_json=response)
        self._activity_results([outcome])

    def _activity_results(self, outcomes: list[ActivityOutcome]) -> None:
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
        self._schedule_flush()
        self._send_activities()
        if len(self._claimed) < self.max_activities:
            self._wake.set()  # claim the next batch before the worker runs dry

    def _schedule_flush(self) -> None:
        if self._finished and self._flush is None:
            self._flush = asyncio.get_running_loop().call_soon(self._record_finished)

    def _record_finished(self) -> None:
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
        self.activities_run += len(finished)
        for instance_id, count in Counter(work.instance_id for work, _ in finished).items():
            self._completed_one(instance_id, count)
            if instance_id not in self._held_before:
                self._claim_dirty = True
        self._wake.set()
