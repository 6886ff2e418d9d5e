"""An episode's call into the language worker: the SDK's trigger payload built from the cached
history, the worker's answer read back, a worker crash charged to the episode, and the replay
floor (the time inside the SDK handle) kept for the benchmarks."""

from __future__ import annotations

from durable_local.engine.events import Event
from durable_local.engine.orchestration.payload import (
    SdkState,
    build_context_json,
    parse_sdk_output,
)
from durable_local.engine.orchestration.replay import HTTP_ACTIVITY_NAME
from durable_local.functions.registry import FunctionRegistry
from durable_local.model import EventType, InstanceRecord
from durable_local.model.messages import function_missing
from durable_local.runtime.batching import BatchingPolicy
from durable_local.runtime.episode_crashes import EpisodeCrashes
from durable_local.runtime.history_cache import CachedHistory
from durable_local.worker.protocol import LanguageWorker, WorkerCrashed


class OrchestratorCalls:
    """Runs episodes' SDK replays in the worker for the dispatcher."""

    def __init__(
        self,
        registry: FunctionRegistry,
        worker: LanguageWorker,
        crashes: EpisodeCrashes,
        batching: BatchingPolicy,
    ) -> None:
        self._registry = registry
        self._worker = worker
        self._crashes = crashes
        self._batching = batching
        self.seconds = 0.0  # time inside the SDK handle (the replay floor)
        # The same as CPU time of the calling threads: concurrent episodes wait for each other's
        # GIL slices, which the wall time above counts once per waiting thread.
        self.cpu_seconds = 0.0

    def known_activity(self, name: str) -> bool:
        return name == HTTP_ACTIVITY_NAME or self._registry.activity(name) is not None

    def orchestrator_name(self, name: str) -> str:
        function = self._registry.orchestrator(name)
        return function.name if function is not None else name

    async def call(
        self,
        record: InstanceRecord,
        history: CachedHistory,
        new_events: list[Event],
        new_texts: list[str | None],
    ) -> SdkState:
        function = self._registry.orchestrator(record.name)
        if function is None:
            return SdkState(error=function_missing(record.name, "orchestrator"))
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
        try:
            result = await self._worker.call_orchestrator(function, context_json)
        except WorkerCrashed as crash:
            reason = self._crashes.failure(record.instance_id, crash, function.function_name)
            if reason is None:
                raise  # retried once the worker's successor is up
            return SdkState(error=reason)
        # Timed by the worker around the handle call: sending the call, the thread hop and the
        # loop's latency in picking the result up are host overhead, not part of the floor.
        self.seconds += result.seconds
        self.cpu_seconds += result.cpu_seconds
        self._batching.replayed(
            record.instance_id, result.seconds, len(history.events) + len(new_events)
        )
        return parse_sdk_output(result.returned, result.error)
