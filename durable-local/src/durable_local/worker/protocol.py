"""The language worker's interface: what the dispatcher asks of a worker, and the calls and
outcomes that cross it.

The language worker: where orchestrator, activity and HTTP function code runs.

In Azure the Functions host (with the Durable extension) and the Python worker are two
processes: the host replays nothing itself, it sends each orchestrator episode and each activity
to the worker and records what comes back (HTTP functions too: the host only routes the request).
durable-local has two workers with one interface:

* ``ProcessWorker`` (the default of ``durable-local start``): one child process, started with
  ``python -m durable_local.worker``, that imports the same ``function_app.py`` and runs the
  calls it is sent over a socket pair. User code and the host's own work (HTTP, store,
  dispatching) no longer share one GIL, as in Azure. A crashed worker is restarted and the
  activities it held are given back to the dispatcher (``on_crash``) with those that were
  running when it died, to which the crash is charged (``board``). Code that overruns
  ``functionTimeout`` gets the worker recycled (a thread cannot be stopped).
* ``InProcessWorker``: threads in the host process, over the registry the host loaded. Used
  when the runtime is embedded (tests with a ManualClock, apps built in memory) and by
  ``durable-local start --in-process``.

Both run at most ``max_orchestrations`` episodes and ``max_activities`` activities at once (the
host.json limits); sync activities run in worker threads, async ones on the worker's event loop.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Protocol

from durable_local.functions.registry import HttpFunction, OrchestratorFunction
from durable_local.model.messages import function_missing
from durable_local.worker.http_call import HttpRequestData, HttpResult
from durable_local.worker.invoke import ActivityCall, ActivityOutcome, OrchestratorResult

ResultsCallback = Callable[[list[ActivityOutcome]], None]


class WorkerError(Exception):
    """The worker process could not be started, or died during a call."""


class WorkerCrashed(WorkerError):
    """The worker process died during an episode. ``charged`` when the episode was running in
    it (its orchestrator code may be what killed it), not merely waiting for a thread; ``alone``
    when nothing else was running in it (then nothing else can have killed it)."""

    def __init__(
        self, exit: str, charged: bool, alone: bool = False, timeout: float | None = None
    ) -> None:
        super().__init__(exit)
        self.exit = exit
        self.charged = charged
        self.alone = alone
        #: Set when this episode overran functionTimeout (seconds): the worker was recycled.
        self.timeout = timeout


@dataclass(frozen=True)
class WorkerCrash:
    """The worker process died: ``exit`` says how ("the worker process exited (code 1)"),
    ``lost`` are the activities it held without an outcome (given back: the worker forgets them),
    ``running`` the keys of those that were running in it when it died, beside
    ``running_episodes`` episodes."""

    exit: str
    lost: list[ActivityCall]
    running: frozenset[int]
    running_episodes: int = 0
    #: The activities that overran functionTimeout (``timeout`` seconds): the worker was
    #: recycled for them, so the others are not to blame (``running`` is then empty).
    timed_out: frozenset[int] = frozenset()
    timeout: float | None = None

    def alone(self, key: int) -> bool:
        """Whether activity ``key`` was the only user code running when the worker died."""
        return self.running == {key} and not self.running_episodes


CrashCallback = Callable[[WorkerCrash], None]


class LanguageWorker(Protocol):
    """Runs orchestrator episodes and activities for the dispatcher."""

    #: True when user code runs in the host's own process (and so competes with it for the GIL).
    shares_host_process: bool

    async def start(
        self, on_results: ResultsCallback, on_crash: CrashCallback | None = None
    ) -> None:
        """Start; activity outcomes are delivered in batches on the loop to ``on_results``.

        When a worker process dies, the activities it held go to ``on_crash`` (without one, the
        worker sends them again to its successor itself)."""

    async def stop(self) -> None:
        """Stop at once: calls still running are abandoned (their results never delivered)."""

    async def call_orchestrator(
        self, function: OrchestratorFunction, context_json: str
    ) -> OrchestratorResult:
        """One episode of the SDK replay (the handle's JSON or its error text)."""

    def submit_activities(self, calls: Sequence[ActivityCall]) -> None:
        """Queue activities; each gives exactly one outcome unless the worker is stopped, or
        dies (``on_crash``), or the activity is cancelled."""

    async def call_http(
        self,
        function: HttpFunction,
        request: HttpRequestData,
        *,
        client_binding: str | None,
        invocation_id: str,
    ) -> HttpResult:
        """One invocation of an HTTP function; raises HttpFunctionError when the user code
        fails, WorkerError when the worker dies during it."""

    def cancel_activities(self, keys: Collection[int]) -> None:
        """Forget these activities: those not started never run; a running one is abandoned
        (an outcome may still arrive, and is to be ignored)."""


def missing_activity(call: ActivityCall) -> ActivityOutcome:
    reason = function_missing(call.name, "activity")
    return ActivityOutcome(call.key, failure=(reason, reason))


def missing_orchestrator(name: str) -> OrchestratorResult:
    return OrchestratorResult(None, function_missing(name, "orchestrator"))
