"""The language worker's interface: what the dispatcher asks of a worker, and the calls and
outcomes that cross it.

The language worker: where orchestrator and activity code runs.

In Azure the Functions host (with the Durable extension) and the Python worker are two
processes: the host replays nothing itself, it sends each orchestrator episode and each activity
to the worker and records what comes back. durable-local has two workers with one interface:

* ``ProcessWorker`` (the default of ``durable-local start``): one child process, started with
  ``python -m durable_local.worker``, that imports the same ``function_app.py`` and runs the
  calls it is sent over a socket pair. User code and the host's own work (HTTP, store,
  dispatching) no longer share one GIL, as in Azure. A crashed worker is restarted and the
  activities it held are sent again (at-least-once, as the real host retries them).
* ``InProcessWorker``: threads in the host process, over the registry the host loaded. Used
  when the runtime is embedded (tests with a ManualClock, apps built in memory) and by
  ``durable-local start --in-process``.

Both run at most ``max_orchestrations`` episodes and ``max_activities`` activities at once (the
host.json limits); sync activities run in worker threads, async ones on the worker's event loop.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from durable_local.functions.registry import OrchestratorFunction
from durable_local.model.messages import function_missing
from durable_local.worker.invoke import ActivityCall, ActivityOutcome, OrchestratorResult

ResultsCallback = Callable[[list[ActivityOutcome]], None]


class WorkerError(Exception):
    """The worker process could not be started, or died during a call."""


class LanguageWorker(Protocol):
    """Runs orchestrator episodes and activities for the dispatcher."""

    #: True when user code runs in the host's own process (and so competes with it for the GIL).
    shares_host_process: bool

    async def start(self, on_results: ResultsCallback) -> None:
        """Start; activity outcomes are delivered in batches on the loop to ``on_results``."""

    async def stop(self) -> None:
        """Stop at once: calls still running are abandoned (their results never delivered)."""

    async def call_orchestrator(
        self, function: OrchestratorFunction, context_json: str
    ) -> OrchestratorResult:
        """One episode of the SDK replay (the handle's JSON or its error text)."""

    def submit_activities(self, calls: Sequence[ActivityCall]) -> None:
        """Queue activities; each gives exactly one outcome unless the worker is stopped."""


def missing_activity(call: ActivityCall) -> ActivityOutcome:
    reason = function_missing(call.name, "activity")
    return ActivityOutcome(call.key, failure=(reason, reason))


def missing_orchestrator(name: str) -> OrchestratorResult:
    return OrchestratorResult(None, function_missing(name, "orchestrator"))
