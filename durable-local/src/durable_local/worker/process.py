"""User code in one child process (``python -m durable_local.worker``) that loads the app itself."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Collection, Sequence
from typing import Any

from durable_local.functions.registry import HttpFunction, OrchestratorFunction
from durable_local.functions.settings import format_timespan
from durable_local.worker.board import Running, RunningBoard
from durable_local.worker.http_call import HttpFunctionError, HttpRequestData, HttpResult
from durable_local.worker.invoke import ActivityCall, ActivityOutcome, OrchestratorResult
from durable_local.worker.protocol import (
    CrashCallback,
    ResultsCallback,
    WorkerCrash,
    WorkerCrashed,
    WorkerError,
)
from durable_local.worker.wire import Channel, FrameBuffer

log = logging.getLogger("durable_local.worker")

READY_TIMEOUT = 120.0  # importing a large app can be slow on a cold machine
STOP_TIMEOUT = 5.0
RESTART_DELAY = 1.0
READ_SIZE = 1 << 18  # bytes read from the worker at a time


class ProcessWorker:
    """User code in one child process that loads the app from ``app_dir`` itself.

    Episodes, activities and HTTP invocations are sent over a socket pair; the child marks on a
    shared running board what each of its threads runs and since when. A dead child is replaced
    after ``restart_delay`` and what it held is given back (``on_crash``); one whose user code
    overruns ``function_timeout`` is killed and replaced the same way."""

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
        function_timeout: float | None = None,
    ) -> None:
        self.app_dir = app_dir
        self.function_timeout = function_timeout  # seconds; None: user code may run forever
        self.cpus = sorted(cpus) if cpus else None  # the worker's CPUs (default: any)
        self.max_activities = max_activities
        self.max_orchestrations = max_orchestrations
        self.log_level = log_level
        self.restart_delay = restart_delay
        self.pid: int | None = None
        self.restarts = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._on_results: ResultsCallback | None = None
        self._on_crash: CrashCallback | None = None
        self._board: RunningBoard | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._channel: Channel | None = None
        self._generation = 0
        self._ready = asyncio.Event()
        self._stopping = False
        self._ids = itertools.count(1)
        self._calls: dict[int, asyncio.Future[Any]] = {}  # episodes and HTTP invocations
        self._outstanding: dict[int, ActivityCall] = {}  # sent, no outcome yet
        self._restart: asyncio.Task[None] | None = None
        self._watchdog: asyncio.Task[None] | None = None
        self._timed_out: tuple[frozenset[int], frozenset[int]] = (frozenset(), frozenset())
        self._recycled = False  # killed on purpose (an HTTP function timed out)

    @property
    def episodes_in_progress(self) -> int:
        """Orchestrator episodes sent to the worker process that have not answered yet."""
        return len(self._calls)

    async def start(
        self, on_results: ResultsCallback, on_crash: CrashCallback | None = None
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self._on_results = on_results
        self._on_crash = on_crash
        await self._spawn()
        if self.function_timeout is not None:
            self._watchdog = asyncio.create_task(self._watch(self.function_timeout))

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
        board = RunningBoard(self.max_activities, self.max_orchestrations)
        command += ["--board", str(board.fd)]
        try:
            process = subprocess.Popen(command, pass_fds=(worker_end.fileno(), board.fd))
        except BaseException:
            board.close()
            raise
        finally:
            worker_end.close()
        channel = Channel(host_end)
        try:
            message = await self._loop.run_in_executor(None, _receive_ready, channel, process)
        except BaseException:
            channel.close()
            board.close()
            with contextlib.suppress(OSError):
                process.kill()
            raise
        self._process, self._channel, self._board = process, channel, board
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
        if self._watchdog is not None:
            self._watchdog.cancel()
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
        if self._board is not None:
            self._board.close()
            self._board = None
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
            try:
                self._send(("orch", request, function.name, context_json))
            except WorkerError as exc:  # died just now: the episode never reached it
                raise WorkerCrashed(str(exc), charged=False) from exc
            return await future
        finally:
            self._calls.pop(request, None)

    async def call_http(
        self,
        function: HttpFunction,
        request: HttpRequestData,
        *,
        client_binding: str | None,
        invocation_id: str,
    ) -> HttpResult:
        assert self._loop is not None, "the worker is not started"
        await self._ready.wait()
        if self._stopping:
            raise WorkerError("the worker was stopped")
        call = next(self._ids)
        future: asyncio.Future[tuple[Any, ...]] = self._loop.create_future()
        self._calls[call] = future
        try:
            message = ("http", call, function.function_name, request, client_binding)
            self._send((*message, invocation_id))
            answer = await asyncio.wait_for(future, self.function_timeout)
        except TimeoutError:
            assert self.function_timeout is not None
            reason = (
                f"Timeout value of {format_timespan(self.function_timeout)} was exceeded by "
                f"function: Functions.{function.function_name}"
            )
            log.error("durable-local: %s; restarting the worker process", reason)
            self._recycle()
            raise HttpFunctionError(reason) from None
        finally:
            self._calls.pop(call, None)
        if answer[0] == "ok":
            result: HttpResult = answer[1]
            return result
        raise HttpFunctionError(f"{answer[1]}\n{answer[2]}".rstrip())

    def submit_activities(self, calls: Sequence[ActivityCall]) -> None:
        for call in calls:
            self._outstanding[call.key] = call
        if self._ready.is_set() and not self._stopping:
            # A worker that just died: they are sent again once its successor is ready.
            with contextlib.suppress(WorkerError):
                self._send(("acts", [tuple(call) for call in calls]))
        # else: sent by _spawn once the restarted worker is ready

    def cancel_activities(self, keys: Collection[int]) -> None:
        dropped = [key for key in keys if self._outstanding.pop(key, None) is not None]
        if dropped and self._ready.is_set() and not self._stopping:
            with contextlib.suppress(WorkerError):  # gone: its successor never gets them
                self._send(("drop", dropped))

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
            if entry[0] in ("orch", "http"):
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
        """Reap the dead worker, give back what it held, start a successor (after
        restart_delay)."""
        loop = asyncio.get_running_loop()
        code = None
        if process is not None:  # its end of the pipe is closed: it is exiting
            try:
                code = await loop.run_in_executor(None, process.wait, STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                code = await loop.run_in_executor(None, process.wait)
        board, self._board = self._board, None
        running = board.read() if board is not None else None
        if board is not None:
            board.close()
        exit = describe_exit(code)
        lost, calls = self._outstanding, self._calls
        timed_out, timed_out_episodes = self._timed_out
        self._timed_out = (frozenset(), frozenset())
        recycled, self._recycled = self._recycled, False
        if timed_out or timed_out_episodes or recycled:
            exit = "a function timeout has occurred"
            running = Running({}, {})  # the cause is known: nothing else is to blame
        log.error(
            "durable-local: %s with %d episode(s) and %d activity(ies) in progress (%d running); "
            "restarting it",
            exit,
            len(calls),
            len(lost),
            len(running.activities) if running is not None else len(lost),
        )
        active = frozenset(running.activities) if running is not None else frozenset(lost)
        episodes = frozenset(running.episodes) if running is not None else frozenset(calls)
        timeout = self.function_timeout
        for request, future in calls.items():
            if not future.done():
                charged = request in episodes
                alone = charged and len(episodes) == 1 and not active
                overran = timeout if request in timed_out_episodes else None
                future.set_exception(WorkerCrashed(exit, charged, alone, overran))
        if self._on_crash is not None:
            self._outstanding = {}
            self._on_crash(
                WorkerCrash(exit, list(lost.values()), active, len(episodes), timed_out, timeout)
            )
        # else: the successor runs them again (_spawn)
        while not self._stopping:
            await asyncio.sleep(self.restart_delay)
            try:
                await self._spawn()
            except Exception:
                log.exception("durable-local: restarting the worker process failed")
                continue
            self.restarts += 1
            return

    async def _watch(self, timeout: float) -> None:
        """Recycle the worker when user code overruns functionTimeout: a thread cannot be
        stopped, so the process is (as the host restarts the language worker)."""
        limit = int(timeout * 1e9)
        interval = min(max(timeout / 10, 0.05), 1.0)
        while not self._stopping:
            await asyncio.sleep(interval)
            board, process = self._board, self._process
            if board is None or process is None or not self._ready.is_set():
                continue
            running, now = board.read(), time.monotonic_ns()
            activities = frozenset(k for k, t in running.activities.items() if now - t > limit)
            episodes = frozenset(k for k, t in running.episodes.items() if now - t > limit)
            if not activities and not episodes:
                continue
            names = sorted(
                {self._outstanding[k].name for k in activities if k in self._outstanding}
            )
            log.error(
                "durable-local: timeout value of %s exceeded by %s; restarting the worker "
                "process (pid %s)",
                format_timespan(timeout),
                ", ".join(
                    [f"activity '{name}'" for name in names]
                    + [f"{len(episodes)} orchestrator episode(s)"] * bool(episodes)
                ),
                self.pid,
            )
            self._timed_out = (activities, episodes)
            self._recycle()

    def _recycle(self) -> None:
        """Kill the worker process on purpose: its end of the socket closes (_died, _recover,
        a successor), and nothing that was running in it is charged for the crash."""
        process = self._process
        if process is None or not self._ready.is_set():
            return
        self._recycled = True
        self._ready.clear()  # calls from now on wait for the successor
        with contextlib.suppress(OSError):
            process.kill()


def describe_exit(code: int | None) -> str:
    """How the worker process ended, for logs and task failures."""
    if code is not None and code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"the worker process was killed by {name}"
    return f"the worker process exited (code {code})"


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
