"""The language worker: where orchestrator and activity code runs.

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

import argparse
import asyncio
import contextlib
import functools
import gc
import itertools
import logging
import os
import pickle
import queue
import select
import signal
import socket
import struct
import subprocess
import sys
import threading
from collections.abc import Callable, Collection, Coroutine, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

from durable_local.invoker import (
    ActivityCall,
    ActivityOutcome,
    OrchestratorResult,
    invoke_orchestrator,
    run_activity,
)
from durable_local.loader import LoaderError, configure_logging, load_app
from durable_local.registry import FunctionRegistry, OrchestratorFunction

log = logging.getLogger("durable_local.worker")

ResultsCallback = Callable[[list[ActivityOutcome]], None]

READY_TIMEOUT = 120.0  # importing a large app can be slow on a cold machine
STOP_TIMEOUT = 5.0
RESTART_DELAY = 1.0
READ_SIZE = 1 << 18  # bytes read from the worker at a time
FLUSH_AT = 64  # outcomes the worker sends at once without waiting for its sender thread
MAX_BATCH = 1024


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
    reason = (
        f"The function '{call.name}' doesn't exist, is disabled, or is not an activity function."
    )
    return ActivityOutcome(call.key, failure=(reason, reason))


def missing_orchestrator(name: str) -> OrchestratorResult:
    return OrchestratorResult(
        None,
        f"The function '{name}' doesn't exist, is disabled, or is not an orchestrator function.",
    )


# --------------------------------------------------------------------------------------------
# Where the two processes run
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CpuSplit:
    """The host keeps one CPU; the worker process gets the others."""

    host: int
    worker: frozenset[int]


def split_cpus() -> CpuSplit | None:
    """A split of the CPUs this process may use, or None (fewer than two, or not Linux).

    The host is one Python thread (its SQLite work included), so one CPU is all it can use.
    Left to the scheduler, the worker's threads are often woken on the host's CPU (they are
    woken by the host's writes), and the two wait for each other there while the other CPU is
    idle. The host keeps the CPU it is running on now, so that several runtimes started on one
    machine do not all pick the same one.
    """
    getaffinity = getattr(os, "sched_getaffinity", None)
    if getaffinity is None:
        return None
    allowed = set(getaffinity(0))
    if len(allowed) < 2:
        return None
    host = _current_cpu()
    if host is None or host not in allowed:
        host = min(allowed)
    return CpuSplit(host, frozenset(allowed - {host}))


def _current_cpu() -> int | None:
    try:
        with open("/proc/thread-self/stat") as stat:
            # Field 39 (processor); the fields after the command name, which is in parentheses.
            fields = stat.read().rpartition(")")[2].split()
        return int(fields[36])
    except (OSError, ValueError, IndexError):
        return None


@contextlib.contextmanager
def pinned_to(cpu: int) -> Iterator[None]:
    """Keep every thread of this process on ``cpu`` for the duration (threads started meanwhile
    included), then give them back the CPUs the calling thread had."""
    before = os.sched_getaffinity(0)
    _set_all_threads({cpu})
    try:
        yield
    finally:
        _set_all_threads(before)


def _set_all_threads(cpus: Collection[int]) -> None:
    for task in os.listdir("/proc/self/task"):
        with contextlib.suppress(OSError):  # a thread that has just ended
            os.sched_setaffinity(int(task), cpus)


# --------------------------------------------------------------------------------------------
# Shared parts: activity threads, and a thread-safe mailbox drained on the loop
# --------------------------------------------------------------------------------------------


class ActivityRunner:
    """``threads`` worker threads taking activities from one queue, as the worker's pool does.

    Only this many activities run at once; the rest wait in the queue. ``report`` is called in
    the worker thread with each outcome.
    """

    def __init__(
        self,
        registry: FunctionRegistry,
        threads: int,
        report: Callable[[ActivityOutcome], None],
        *,
        app_dir: str,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self._registry = registry
        self._report = report
        self._app_dir = app_dir
        self._loop = loop
        self._queue: queue.SimpleQueue[ActivityCall | None] = queue.SimpleQueue()
        self._stopped = False
        self._running_async: set[Future[Any]] = set()
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._work, name=f"activity-{n}", daemon=True)
            for n in range(threads)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, calls: Iterable[ActivityCall]) -> None:
        for call in calls:
            self._queue.put(call)

    def stop(self) -> None:
        self._stopped = True
        for _ in self._threads:
            self._queue.put(None)
        with self._lock:
            running = list(self._running_async)
        for future in running:  # async activities are cancelled, as the worker's loop stops
            future.cancel()

    def _run_async(self, coroutine: Coroutine[Any, Any, Any]) -> Any:
        future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        with self._lock:
            self._running_async.add(future)
        try:
            return future.result()
        finally:
            with self._lock:
                self._running_async.discard(future)

    def _work(self) -> None:
        while True:
            call = self._queue.get()
            if call is None or self._stopped:
                return
            function = self._registry.activity(call.name)
            try:
                if function is None:
                    outcome = missing_activity(call)
                else:
                    outcome = run_activity(
                        function, call, app_dir=self._app_dir, run_async=self._run_async
                    )
            except BaseException:  # an async activity cancelled by stop(), or the loop closed
                if self._stopped:
                    return
                raise
            if self._stopped:
                return
            self._report(outcome)


class Mailbox:
    """Items put from any thread, delivered in batches by one callback on the loop."""

    def __init__(
        self, loop: asyncio.AbstractEventLoop, deliver: Callable[[list[ActivityOutcome]], None]
    ) -> None:
        self._loop = loop
        self._deliver = deliver
        self._items: list[ActivityOutcome] = []
        self._lock = threading.Lock()

    def put(self, item: ActivityOutcome) -> None:
        with self._lock:
            first = not self._items
            self._items.append(item)
        if first:
            with contextlib.suppress(RuntimeError):  # the loop is closed: the host is gone
                self._loop.call_soon_threadsafe(self._drain)

    def _drain(self) -> None:
        with self._lock:
            items, self._items = self._items, []
        if items:
            self._deliver(items)


# --------------------------------------------------------------------------------------------
# In the host process
# --------------------------------------------------------------------------------------------


class InProcessWorker:
    """User code in threads of the host process (embedded runtimes, tests, ``--in-process``)."""

    shares_host_process = True

    def __init__(
        self,
        registry: FunctionRegistry,
        *,
        max_activities: int = 10,
        max_orchestrations: int = 10,
        app_dir: str = ".",
    ) -> None:
        self.registry = registry
        self.max_activities = max_activities
        self.max_orchestrations = max_orchestrations
        self.app_dir = app_dir
        self._pool: ThreadPoolExecutor | None = None
        self._runner: ActivityRunner | None = None

    async def start(self, on_results: ResultsCallback) -> None:
        loop = asyncio.get_running_loop()
        self._pool = ThreadPoolExecutor(self.max_orchestrations, thread_name_prefix="orchestrator")
        mailbox = Mailbox(loop, on_results)
        self._runner = ActivityRunner(
            self.registry, self.max_activities, mailbox.put, app_dir=self.app_dir, loop=loop
        )

    async def stop(self) -> None:
        if self._runner is not None:
            self._runner.stop()
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)

    async def call_orchestrator(
        self, function: OrchestratorFunction, context_json: str
    ) -> OrchestratorResult:
        assert self._pool is not None, "the worker is not started"
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, invoke_orchestrator, function, context_json)

    def submit_activities(self, calls: Sequence[ActivityCall]) -> None:
        assert self._runner is not None, "the worker is not started"
        self._runner.submit(calls)


# --------------------------------------------------------------------------------------------
# A child process
# --------------------------------------------------------------------------------------------
# Messages, pickled, each framed by its length (8 bytes, big-endian) over a socket pair. Activity
# calls and outcomes cross as plain tuples: a named tuple pickles ten times slower.
#   host -> worker: ("orch", request_id, function_name, context_json)
#                   ("acts", [(key, name, input_json), ...])
#                   ("stop",)
#   worker -> host: ("ready", pid) | ("fatal", message)
#                   ("batch", [("orch", request_id, OrchestratorResult)
#                              | ("act", (key, result_json, failure)), ...])

_HEADER = struct.Struct("!Q")


def frame(message: object) -> bytes:
    payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return _HEADER.pack(len(payload)) + payload


class Channel:
    """Framed, pickled messages over a blocking socket; ``send`` may be called from any thread."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._lock = threading.Lock()

    def send(self, message: object) -> None:
        data = frame(message)
        with self._lock:
            self.sock.sendall(data)

    def recv(self) -> Any:
        """The next message; EOFError when the other side has closed its end."""
        (size,) = _HEADER.unpack(self._exactly(_HEADER.size))
        return pickle.loads(self._exactly(size))

    def _exactly(self, size: int) -> bytes:
        buffer = bytearray(size)
        view = memoryview(buffer)
        got = 0
        while got < size:
            n = self.sock.recv_into(view[got:])
            if n == 0:
                raise EOFError("the other side closed the channel")
            got += n
        return bytes(buffer)

    def poll(self, timeout: float) -> bool:
        readable, _, _ = select.select([self.sock], [], [], timeout)
        return bool(readable)

    def close(self) -> None:
        self.sock.close()


class FrameBuffer:
    """Reassembles messages from bytes read without blocking (the host reads on its loop)."""

    def __init__(self) -> None:
        self._data = bytearray()

    def feed(self, data: bytes | memoryview) -> list[Any]:
        self._data += data
        messages = []
        start = 0
        buffered = len(self._data)
        with memoryview(self._data) as view:
            while buffered - start >= _HEADER.size:
                (size,) = _HEADER.unpack_from(view, start)
                end = start + _HEADER.size + size
                if end > buffered:
                    break
                messages.append(pickle.loads(view[start + _HEADER.size : end]))
                start = end
        if start:
            del self._data[:start]
        return messages


class ProcessWorker:
    """User code in one child process that loads the app from ``app_dir`` itself."""

    shares_host_process = False

    def __init__(
        self,
        app_dir: str,
        *,
        max_activities: int = 10,
        max_orchestrations: int = 10,
        log_level: int | None = None,
        restart_delay: float = RESTART_DELAY,
        cpus: Collection[int] | None = None,
    ) -> None:
        self.app_dir = app_dir
        self.cpus = sorted(cpus) if cpus else None  # the worker's CPUs (default: any)
        self.max_activities = max_activities
        self.max_orchestrations = max_orchestrations
        self.log_level = log_level
        self.restart_delay = restart_delay
        self.pid: int | None = None
        self.restarts = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._on_results: ResultsCallback | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._channel: Channel | None = None
        self._generation = 0
        self._ready = asyncio.Event()
        self._stopping = False
        self._ids = itertools.count(1)
        self._calls: dict[int, asyncio.Future[OrchestratorResult]] = {}
        self._outstanding: dict[int, ActivityCall] = {}  # sent, no outcome yet
        self._restart: asyncio.Task[None] | None = None

    async def start(self, on_results: ResultsCallback) -> None:
        self._loop = asyncio.get_running_loop()
        self._on_results = on_results
        await self._spawn()

    async def _spawn(self) -> None:
        assert self._loop is not None
        host_end, worker_end = socket.socketpair()
        command = [
            sys.executable,
            "-m",
            "durable_local.worker",
            "--fd",
            str(worker_end.fileno()),
            "--app-dir",
            self.app_dir,
            "--activities",
            str(self.max_activities),
            "--orchestrations",
            str(self.max_orchestrations),
        ]
        level = self.log_level if self.log_level is not None else logging.getLogger().level
        command += ["--log-level", logging.getLevelName(level)]
        if self.cpus:
            command += ["--cpus", ",".join(str(cpu) for cpu in self.cpus)]
        try:
            process = subprocess.Popen(command, pass_fds=(worker_end.fileno(),))
        finally:
            worker_end.close()
        channel = Channel(host_end)
        try:
            message = await self._loop.run_in_executor(None, _receive_ready, channel, process)
        except BaseException:
            channel.close()
            with contextlib.suppress(OSError):
                process.kill()
            raise
        self._process, self._channel = process, channel
        self.pid = int(message[1])
        self._generation += 1
        # Read on the loop (no reader thread to wake, no GIL handoff per message).
        self._loop.add_reader(
            host_end.fileno(),
            self._readable,
            channel,
            FrameBuffer(),
            memoryview(bytearray(READ_SIZE)),  # read into, not allocated per read
            self._generation,
        )
        self._ready.set()
        if self._outstanding:  # a restart: the activities the dead worker held run again
            with contextlib.suppress(WorkerError):  # died again: the next restart sends them
                self._send(("acts", [tuple(call) for call in self._outstanding.values()]))

    async def stop(self) -> None:
        self._stopping = True
        self._ready.set()  # wakes calls waiting for a restart: they fail instead of waiting forever
        if self._restart is not None:
            self._restart.cancel()
        process, channel = self._process, self._channel
        self._process = self._channel = None  # a second stop() has nothing to do
        if channel is not None:
            self._forget(channel)
            with contextlib.suppress(OSError, ValueError):
                channel.send(("stop",))
        if process is not None and self._loop is not None:
            try:
                await self._loop.run_in_executor(None, process.wait, STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                await self._loop.run_in_executor(None, process.wait)
        if channel is not None:
            channel.close()
        for future in self._calls.values():
            if not future.done():
                future.set_exception(WorkerError("the worker was stopped"))
        self._calls.clear()

    async def call_orchestrator(
        self, function: OrchestratorFunction, context_json: str
    ) -> OrchestratorResult:
        assert self._loop is not None, "the worker is not started"
        await self._ready.wait()
        if self._stopping:
            raise WorkerError("the worker was stopped")
        request = next(self._ids)
        future: asyncio.Future[OrchestratorResult] = self._loop.create_future()
        self._calls[request] = future
        try:
            self._send(("orch", request, function.name, context_json))
            return await future
        finally:
            self._calls.pop(request, None)

    def submit_activities(self, calls: Sequence[ActivityCall]) -> None:
        for call in calls:
            self._outstanding[call.key] = call
        if self._ready.is_set() and not self._stopping:
            # A worker that just died: they are sent again once its successor is ready.
            with contextlib.suppress(WorkerError):
                self._send(("acts", [tuple(call) for call in calls]))
        # else: sent by _spawn once the restarted worker is ready

    # -- plumbing ------------------------------------------------------------------------------
    def _send(self, message: tuple[Any, ...]) -> None:
        channel = self._channel
        if channel is None:
            raise WorkerError("the worker process is not running")
        try:
            channel.send(message)
        except OSError as exc:  # died, and the loop has not seen its end of the socket close yet
            raise WorkerError(f"the worker process is gone: {exc}") from exc

    def _forget(self, channel: Channel) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.remove_reader(channel.sock.fileno())

    def _readable(
        self, channel: Channel, frames: FrameBuffer, buffer: memoryview, generation: int
    ) -> None:
        """The worker wrote: dispatch what arrived; at end of file, it died."""
        try:
            size = channel.sock.recv_into(buffer, len(buffer), socket.MSG_DONTWAIT)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            size = 0
        if not size:
            self._forget(channel)
            self._died(generation)
            return
        for message in frames.feed(buffer[:size]):
            if message[0] == "batch":
                self._dispatch(generation, message[1])

    def _dispatch(self, generation: int, batch: list[tuple[Any, ...]]) -> None:
        if generation != self._generation:
            return
        outcomes = []
        for entry in batch:
            if entry[0] == "orch":
                future = self._calls.get(entry[1])
                if future is not None and not future.done():
                    future.set_result(entry[2])
            else:
                outcome = ActivityOutcome._make(entry[1])
                if self._outstanding.pop(outcome.key, None) is not None:
                    outcomes.append(outcome)
        if outcomes and self._on_results is not None:
            self._on_results(outcomes)

    def _died(self, generation: int) -> None:
        if generation != self._generation or self._stopping:
            return
        self._ready.clear()  # calls from now on wait for the successor
        if self._channel is not None:
            self._channel.close()
        self._channel = None
        self._restart = asyncio.ensure_future(self._recover(self._process))

    async def _recover(self, process: subprocess.Popen[bytes] | None) -> None:
        """Reap the dead worker, fail its episodes, start a successor (after restart_delay)."""
        loop = asyncio.get_running_loop()
        code = None
        if process is not None:  # its end of the pipe is closed: it is exiting
            try:
                code = await loop.run_in_executor(None, process.wait, STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                code = await loop.run_in_executor(None, process.wait)
        log.error(
            "durable-local: the worker process exited (code %s) with %d episode(s) and %d "
            "activity(ies) in progress; restarting it, the activities will run again",
            code,
            len(self._calls),
            len(self._outstanding),
        )
        for future in self._calls.values():
            if not future.done():
                future.set_exception(WorkerError(f"the worker process exited (code {code})"))
        while not self._stopping:
            await asyncio.sleep(self.restart_delay)
            try:
                await self._spawn()
            except Exception:
                log.exception("durable-local: restarting the worker process failed")
                continue
            self.restarts += 1
            return


def _receive_ready(channel: Channel, process: subprocess.Popen[bytes]) -> tuple[Any, ...]:
    """Wait (in a thread) for the child's first message."""
    if not channel.poll(READY_TIMEOUT):
        raise WorkerError(f"the worker process did not start within {READY_TIMEOUT:.0f} s")
    try:
        message: tuple[Any, ...] = channel.recv()
    except (EOFError, OSError):
        code = process.wait()
        raise WorkerError(f"the worker process exited (code {code}) before it was ready") from None
    if message[0] == "fatal":
        process.wait()
        raise WorkerError(f"the worker process cannot load the app: {message[1]}")
    return message


# --------------------------------------------------------------------------------------------
# The child's side
# --------------------------------------------------------------------------------------------


class _Child:
    def __init__(
        self, channel: Channel, registry: FunctionRegistry, app_dir: str, activities: int, orch: int
    ) -> None:
        self.channel = channel
        self.registry = registry
        self.outbox: queue.SimpleQueue[tuple[Any, ...]] = queue.SimpleQueue()
        self.loop = asyncio.new_event_loop()  # for async activities
        threading.Thread(target=self.loop.run_forever, name="worker-loop", daemon=True).start()
        self.orchestrators = ThreadPoolExecutor(orch, thread_name_prefix="orchestrator")
        self.activities = ActivityRunner(
            registry, activities, self._report, app_dir=app_dir, loop=self.loop
        )
        threading.Thread(target=self._send_loop, name="worker-sender", daemon=True).start()

    def serve(self) -> None:
        """Read requests until the host says stop or goes away."""
        while True:
            try:
                message = self.channel.recv()
            except (EOFError, OSError):
                return  # the host died: nothing left to work for
            kind = message[0]
            if kind == "stop":
                return
            if kind == "acts":
                self.activities.submit(map(ActivityCall._make, message[1]))
            elif kind == "orch":
                future = self.orchestrators.submit(self._orchestrate, message[2], message[3])
                future.add_done_callback(functools.partial(self._reply, message[1]))

    def _orchestrate(self, name: str, context_json: str) -> OrchestratorResult:
        function = self.registry.orchestrator(name)
        if function is None:
            return missing_orchestrator(name)
        return invoke_orchestrator(function, context_json)

    def _reply(self, request: int, done: Future[OrchestratorResult]) -> None:
        """Sent at once by the thread that ran the episode: the host is waiting for it."""
        try:
            result = done.result()
        except BaseException as exc:  # invoke_orchestrator catches user errors; this is ours
            result = OrchestratorResult(None, f"durable-local worker error: {exc!r}")
        self._send([("orch", request, result)])

    def _report(self, outcome: ActivityOutcome) -> None:
        """An activity's outcome: sent with others by the sender thread, or by this (activity)
        thread once a batch is full. Busy activity threads hold the GIL for up to the switch
        interval (5 ms), which is longer than a window of short activities takes: waiting for
        the sender would leave the host without results, and the worker without new work."""
        self.outbox.put(("act", tuple(outcome)))
        if self.outbox.qsize() >= FLUSH_AT:
            self._flush()

    def _flush(self, *first: tuple[Any, ...]) -> None:
        batch = list(first)
        with contextlib.suppress(queue.Empty):
            while len(batch) < MAX_BATCH:
                batch.append(self.outbox.get_nowait())
        if batch:
            self._send(batch)

    def _send(self, batch: list[tuple[Any, ...]]) -> None:
        try:
            self.channel.send(("batch", batch))
        except (OSError, ValueError):
            os._exit(0)  # the host is gone

    def _send_loop(self) -> None:
        """Send what is ready as one message: a burst of outcomes costs one write."""
        while True:
            self._flush(self.outbox.get())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m durable_local.worker")
    parser.add_argument("--fd", type=int, required=True)
    parser.add_argument("--app-dir", required=True)
    parser.add_argument("--activities", type=int, default=10)
    parser.add_argument("--orchestrations", type=int, default=10)
    parser.add_argument("--log-level", default="INFO")
    parser.add_argument("--cpus", default="", help="comma-separated CPUs to run on")
    args = parser.parse_args(argv)
    # Ctrl+C reaches the whole process group: the host decides when the worker stops.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    cpu_problem = None
    if args.cpus:  # first, so that every thread started from here on inherits it
        try:
            os.sched_setaffinity(0, {int(cpu) for cpu in args.cpus.split(",")})
        except (OSError, ValueError, AttributeError) as exc:
            cpu_problem = exc
    channel = Channel(socket.socket(fileno=args.fd))
    try:
        configure_logging(args.log_level)
        if cpu_problem is not None:
            log.warning("durable-local worker: cannot run on CPUs %s: %s", args.cpus, cpu_problem)
        loaded = load_app(args.app_dir)
        os.chdir(loaded.app_dir)  # as the host: user code may rely on the app root as cwd
    except (LoaderError, Exception) as exc:
        channel.send(("fatal", str(exc)))
        return 1
    child = _Child(
        channel, loaded.registry, str(loaded.app_dir), args.activities, args.orchestrations
    )
    gc.collect()
    gc.freeze()  # the imported app and libraries stay: full collections need not rescan them
    channel.send(("ready", os.getpid()))
    child.serve()
    # Running activities are abandoned, as the host abandons them on stop; flush the logs.
    logging.shutdown()
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
