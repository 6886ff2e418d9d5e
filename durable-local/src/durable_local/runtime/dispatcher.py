"""The dispatcher: the pump that claims work, hands it to the language worker and commits.

One asyncio task (the pump) claims orchestration work items (an instance with visible messages)
up to the configured concurrency, and activities (``activities.ActivityPipeline``), and sleeps
until new work is queued, a timer becomes due, a hold runs out or the clock jumps. Each episode
is one call into the worker (the SDK replay) between two pure engine calls: ``plan_episode``
before, ``decide`` after, whose commit the store applies in one transaction. When an episode
may run is the batching policy's business (``batching``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import Counter
from collections.abc import Callable, Collection, Coroutine
from datetime import timedelta
from typing import Any

from durable_local.engine.commit import EpisodeCommit
from durable_local.engine.events import execution_version
from durable_local.engine.orchestration.decide import decide
from durable_local.engine.orchestration.payload import (
    SdkState,
)
from durable_local.engine.orchestration.plan import InstanceState, plan_episode
from durable_local.functions.registry import FunctionRegistry
from durable_local.model import InstanceRecord, RuntimeStatus
from durable_local.model.errors import StoreUnavailable
from durable_local.model.versions import VersionFailure, Versioning
from durable_local.runtime.activities import (
    DEFAULT_CRASH_LIMIT,
    ActivityPipeline,
    Probation,
    default_activity_window,
)
from durable_local.runtime.batching import BatchingPolicy
from durable_local.runtime.clock import Clock
from durable_local.runtime.episode_crashes import EpisodeCrashes
from durable_local.runtime.history_cache import HistoryCache
from durable_local.runtime.orchestrator_calls import OrchestratorCalls
from durable_local.runtime.retries import EpisodeRetries
from durable_local.store.base import LeaseLost, OrchestrationWorkItem, Store
from durable_local.worker.inprocess import InProcessWorker
from durable_local.worker.protocol import LanguageWorker, WorkerCrashed

log = logging.getLogger("durable_local.dispatcher")

# One runtime owns a store; leases only matter after a crash (released at start), so they are
# long enough never to expire under a live runtime.
LEASE_SECONDS = 24 * 3600.0
HEALTH_CHECK_SECONDS = 0.5  # how often the pump asks whether the store can take work


class Dispatcher:
    """Runs every instance's episodes and activities; started and stopped by the runtime."""

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
        versioning: Versioning | None = None,
        crash_limit: int = DEFAULT_CRASH_LIMIT,
    ) -> None:
        if max_concurrent_activities < 1 or max_concurrent_orchestrations < 1:
            raise ValueError("concurrency limits must be at least 1")
        if crash_limit < 1:
            raise ValueError("the crash limit must be at least 1")
        if activity_window is not None and activity_window < max_concurrent_activities:
            raise ValueError("the activity window must be at least the activity concurrency")
        self.registry = registry
        self.store = store
        self.clock = clock
        self.app_dir = app_dir
        self.max_activities = max_concurrent_activities
        self.max_orchestrations = max_concurrent_orchestrations
        self.owner = uuid.uuid4().hex
        self.versioning = versioning or Versioning()
        # Instances whose version this worker does not run (versionFailureStrategy Reject):
        # left unclaimed, as for a worker of another version; the host.json that decides
        # cannot change while this runtime runs.
        self._rejected: set[str] = set()
        self._wake = asyncio.Event()
        self._episodes: set[asyncio.Task[None]] = set()
        self.worker: LanguageWorker = worker or InProcessWorker(
            registry,
            max_activities=max_concurrent_activities,
            max_orchestrations=max_concurrent_orchestrations,
            app_dir=app_dir,
        )
        probation = Probation()  # one suspect of a worker crash at a time, activity or episode
        self.activities = ActivityPipeline(
            registry,
            store,
            clock,
            self.worker,
            owner=self.owner,
            lease_seconds=LEASE_SECONDS,
            max_activities=max_concurrent_activities,
            window=activity_window or default_activity_window(max_concurrent_activities),
            on_recorded=self._activities_recorded,
            wake=self._wake.set,
            crash_limit=crash_limit,
            probation=probation,
        )
        self.crash_limit = crash_limit
        self.crashes = EpisodeCrashes(crash_limit, probation)
        probation.released = self.wake
        self.batching = BatchingPolicy(hold_streams=self.worker.shares_host_process)
        self.histories = HistoryCache(store)
        self.retries = EpisodeRetries()
        self._pump: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._unsubscribe: Callable[[], None] = lambda: None
        self._running: set[str] = set()  # instances with an episode in progress
        self._episode_items: dict[str, tuple[OrchestrationWorkItem, asyncio.Task[None]]] = {}
        self._next_hold: float | None = None
        # Claiming an episode scans the visible messages, which is costly while thousands of
        # completions wait for a held instance. The pump only claims when something may have
        # made an instance claimable since its last empty claim: a wake from a client, a
        # finished episode, a completion for an instance not held, a hold or timer running out.
        self._claim_dirty = True
        self.calls = OrchestratorCalls(registry, self.worker, self.crashes, self.batching)
        self.episodes_run = 0
        self.stopping = False

    @property
    def orchestrator_seconds(self) -> float:
        """Time inside the SDK handle (the replay floor)."""
        return self.calls.seconds

    @property
    def orchestrator_cpu_seconds(self) -> float:
        """The same as CPU time of the calling threads (without GIL waits)."""
        return self.calls.cpu_seconds

    @property
    def activities_run(self) -> int:
        return self.activities.recorded

    # -- lifecycle -----------------------------------------------------------------------------
    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.store.release_all_leases()
        await self.worker.start(self.activities.results, self.activities.crashed)
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
        await self.activities.stop()
        await self.worker.stop()
        # Outcomes already back are recorded; the rest run again on the next start.
        self.activities.release()

    def forget(self, instance_ids: set[str] | None = None) -> None:
        """Instances were purged (None: some, unknown): drop their pending work."""
        if instance_ids is None:
            held = self.activities.instances()
            instance_ids = {i for i in held if self.store.get_instance(i) is None}
        self.activities.drop_instances(instance_ids)
        for instance_id in instance_ids:
            self.crashes.forget(instance_id)
            self.retries.forget(instance_id)

    def wake(self) -> None:
        self._claim_dirty = True
        self.activities.queued = True
        self._wake.set()

    def event_raised(self, instance_id: str) -> None:
        """A client queued an event for ``instance_id``.

        With a worker in the host process, events that arrive while the instance's episode
        runs are a stream: its next episode is held like a fan-in's, so a burst is applied in
        a few episodes instead of one whole-history replay per event (spec §7.9): every replay
        there takes the GIL from the HTTP server that is receiving the burst. A worker process
        replays on a core of its own, so the next episode is claimed as soon as the running one
        ends, as DTFx does (holding would only leave that core idle). An event for an instance
        that is not running is applied at once.
        """
        if instance_id in self._running and self._loop is not None:
            self.batching.event_raised(instance_id, self._loop.time())
        if instance_id in self._running or self.batching.is_held(instance_id):
            # Not claimable now; the end of its episode or of its hold wakes the pump.
            return
        self.wake()

    def wake_threadsafe(self) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self.wake)

    @property
    def rejected(self) -> frozenset[str]:
        """Instances left waiting for a worker that runs their version."""
        return frozenset(self._rejected)

    @property
    def busy(self) -> bool:
        return bool(self._episodes) or self.activities.busy

    # -- the pump ------------------------------------------------------------------------------
    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        claims_failing = False
        next_check = 0.0
        while True:
            self._wake.clear()
            if loop.time() >= next_check:  # a store deleted or unwritable: no work is taken
                next_check = loop.time() + HEALTH_CHECK_SECONDS
                if self.store.problem() is not None:
                    await asyncio.sleep(HEALTH_CHECK_SECONDS)
                    self._claim_dirty = True
                    continue
            try:
                self._fill()
            except Exception as error:  # a store error must not kill the pump; retry shortly
                if not claims_failing:
                    log.error(
                        "durable-local: claiming work failed; retrying",
                        exc_info=not isinstance(error, StoreUnavailable),
                    )
                claims_failing = True
                self._claim_dirty = True
                await asyncio.sleep(0.5)
                continue
            if claims_failing:
                log.warning("durable-local: claiming work succeeds again")
                claims_failing = False
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

    def _fill(self) -> None:
        now = self.clock.now()
        loop_now = asyncio.get_running_loop().time()
        held, released = self.batching.holds(loop_now)
        self.retries.release_pending(self.store)
        waiting, retry_at = self.retries.waiting(loop_now)
        self._next_hold = min([*held.values(), *([retry_at] if retry_at else [])], default=None)
        if released:
            self._claim_dirty = True  # an instance is no longer held back
        while self._claim_dirty and len(self._episodes) < self.max_orchestrations:
            exclude: Collection[str] = held.keys()
            if waiting or self._rejected:
                exclude = held.keys() | waiting | self._rejected
            exclude = self.crashes.exclude(exclude)
            item = self.store.claim_orchestration(self.owner, now, LEASE_SECONDS, exclude)
            if item is None:
                self._claim_dirty = False
                break
            self.batching.claimed(item.instance.instance_id)
            self._running.add(item.instance.instance_id)
            self.crashes.claimed(item.instance.instance_id)
            self._episode_items[item.instance.instance_id] = (
                item,
                self._spawn(self._episode(item)),
            )
        self.activities.claim(now)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.create_task(coro)
        self._episodes.add(task)

        def done(finished: asyncio.Task[None]) -> None:
            self._episodes.discard(finished)
            self._wake.set()

        task.add_done_callback(done)
        return task

    def abandon(self, instance_id: str) -> None:
        """A terminate was queued: an episode of the instance that is running (perhaps stuck in
        user code) no longer holds it back. Its lease is released, so that the terminate is
        applied by the next episode, and its slot freed; what it returns later is discarded
        (its commit finds the lease gone)."""
        running = self._episode_items.pop(instance_id, None)
        if running is None:
            return
        item, task = running
        with contextlib.suppress(Exception):
            self.store.release_orchestration(item)
        self._episodes.discard(task)
        self.wake()

    # -- episodes ------------------------------------------------------------------------------
    async def _episode(self, item: OrchestrationWorkItem) -> None:
        record = item.instance
        try:
            await self._run_episode(item)
        except LeaseLost:
            log.warning("durable-local: lost the lease on %s; its episode is dropped", record)
            self.histories.drop(record.instance_id)
        except WorkerCrashed:  # logged by the worker; run again once its successor is up
            self.histories.drop(record.instance_id)
            with contextlib.suppress(Exception):
                self.store.release_orchestration(item)
        except Exception as error:  # e.g. its commit failed: retried after a backoff (retries)
            if self.retries.is_first(record.instance_id) and not self.stopping:
                log.error(
                    "durable-local: episode of instance '%s' failed; it will be retried",
                    record.instance_id,
                    exc_info=not isinstance(error, StoreUnavailable),  # the store said why
                )
            self.histories.drop(record.instance_id)
            self.retries.failed(item, self.store, asyncio.get_running_loop().time())
        finally:
            self._running.discard(record.instance_id)
            running = self._episode_items.get(record.instance_id)
            if running is not None and running[0] is item:
                del self._episode_items[record.instance_id]
            self.crashes.ended(record.instance_id)
            self._claim_dirty = True  # the lease is released; the commit may have queued work

    async def _run_episode(self, item: OrchestrationWorkItem) -> None:
        record = item.instance
        history = self.histories.get(record)
        now = self.clock.now()
        state = InstanceState(
            instance_id=record.instance_id,
            name=record.name,
            execution_id=record.execution_id,
            status=record.status,
            parent=record.parent,
            last_updated=record.updated,
        )
        plan = plan_episode(state, record.history_len == 0, item.messages, now)
        sdk: SdkState | None = None
        if plan.invoke_orchestrator:
            version = execution_version(history.events or plan.new_events)
            if not self.versioning.runs(version):
                if self.versioning.failure == VersionFailure.REJECT:
                    self._reject(item, version)
                    return
                sdk = SdkState(error=self._version_refused(version))
            else:
                sdk = await self.calls.call(record, history, plan.new_events, plan.new_texts)
        commit = decide(
            state=state,
            plan=plan,
            history=history.events + plan.new_events,
            sdk=sdk,
            now=now,
            known_activities=self.calls.known_activity,
            known_orchestrators=lambda name: self.registry.orchestrator(name) is not None,
            orchestrator_name=self.calls.orchestrator_name,
            default_version=self.versioning.default_version,
        )
        # The new activities are leased to this dispatcher in the same transaction: no claim.
        commit.lease_owner = self.owner
        commit.lease_until = now + timedelta(seconds=LEASE_SECONDS)
        leased = self.store.commit_episode(item, commit)
        self.episodes_run += 1
        self.crashes.committed(record.instance_id)
        self.retries.succeeded(record.instance_id)
        self._committed(record, commit)
        if commit.status == RuntimeStatus.TERMINATED:
            self.activities.drop_instances({record.instance_id})
        if leased:
            self.activities.leased(leased)
        if commit.ends_execution:
            self.histories.drop(record.instance_id)
        else:
            assert commit.appended_texts is not None
            history.texts.extend(commit.appended_texts)
            history.events.extend(commit.appended)

    def _version_refused(self, version: str) -> str:
        return (
            f"The orchestration version '{version}' does not match this worker's version "
            f"'{self.versioning.default_version}' (versionMatchStrategy "
            f"{self.versioning.match.value})."
        )

    def _reject(self, item: OrchestrationWorkItem, version: str) -> None:
        instance_id = item.instance.instance_id
        self._rejected.add(instance_id)
        self.store.release_orchestration(item)
        log.warning(
            "durable-local: instance '%s' is left waiting: %s (versionFailureStrategy Reject)",
            instance_id,
            self._version_refused(version),
        )

    def _committed(self, record: InstanceRecord, commit: EpisodeCommit) -> None:
        started = len(commit.activities) + len(commit.children)
        self.batching.committed(
            record.instance_id, record.history_len, started, commit.ends_execution
        )
        if commit.finished and record.parent is not None and self._loop is not None:
            self.batching.completed(record.parent.instance_id, self._loop.time())

    def _activities_recorded(self, counts: Counter[str]) -> None:
        now = asyncio.get_running_loop().time()
        for instance_id, count in counts.items():
            self.batching.completed(instance_id, now, count)
            if not self.batching.is_held(instance_id):
                self._claim_dirty = True
        self._wake.set()
