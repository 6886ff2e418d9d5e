"""The worker process's side: load the app, run what the host sends, send outcomes back."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import gc
import logging
import os
import queue
import signal
import socket
import threading
import traceback
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from durable_local.functions.loader import load_app
from durable_local.functions.registry import FunctionRegistry
from durable_local.functions.settings import LoaderError
from durable_local.worker.board import RunningBoard
from durable_local.worker.http_call import (
    HttpFunctionError,
    HttpRequestData,
    HttpResult,
    invoke_http,
)
from durable_local.worker.invoke import (
    ActivityCall,
    ActivityOutcome,
    OrchestratorResult,
    invoke_orchestrator,
)
from durable_local.worker.logs import configure_logging
from durable_local.worker.protocol import missing_orchestrator
from durable_local.worker.threads import ActivityRunner
from durable_local.worker.wire import Channel

log = logging.getLogger("durable_local.worker")

FLUSH_AT = 64  # outcomes the worker sends at once without waiting for its sender thread
MAX_BATCH = 1024


class _Child:
    def __init__(
        self,
        channel: Channel,
        registry: FunctionRegistry,
        app_dir: str,
        activities: int,
        orch: int,
        board: RunningBoard | None = None,
    ) -> None:
        self.channel = channel
        self.board = board
        self.app_dir = app_dir
        self.http_functions = {f.function_name: f for f in registry.http}
        self.registry = registry
        self.outbox: queue.SimpleQueue[tuple[Any, ...]] = queue.SimpleQueue()
        self.loop = asyncio.new_event_loop()  # for async activities
        threading.Thread(target=self.loop.run_forever, name="worker-loop", daemon=True).start()
        self.orchestrators = ThreadPoolExecutor(orch, thread_name_prefix="orchestrator")
        self.activities = ActivityRunner(
            registry, activities, self._report, app_dir=app_dir, loop=self.loop, board=board
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
                future = self.orchestrators.submit(
                    self._orchestrate, message[1], message[2], message[3]
                )
                future.add_done_callback(functools.partial(self._reply, message[1]))
            elif kind == "drop":
                self.activities.cancel(message[1])
            elif kind == "http":
                request, name, data, binding, invocation_id = message[1:]
                call = asyncio.run_coroutine_threadsafe(
                    self._http(name, data, binding, invocation_id), self.loop
                )
                call.add_done_callback(functools.partial(self._http_reply, request))

    async def _http(
        self, name: str, data: HttpRequestData, binding: str | None, invocation_id: str
    ) -> HttpResult:
        function = self.http_functions.get(name)
        if function is None:
            raise HttpFunctionError(f"No HTTP function '{name}' in the worker's app.")
        return await invoke_http(
            function,
            data,
            client_binding=binding,
            function_directory=self.app_dir,
            invocation_id=invocation_id,
        )

    def _http_reply(self, request: int, done: Future[HttpResult]) -> None:
        try:
            answer: tuple[Any, ...] = ("ok", done.result())
        except HttpFunctionError as exc:
            cause = exc.__cause__ or exc
            trace = "".join(traceback.format_exception(type(cause), cause, cause.__traceback__))
            answer = ("err", str(exc), trace)
        except BaseException as exc:  # ours, not the user's
            answer = ("err", f"durable-local worker error: {exc!r}", "")
        self._send([("http", request, answer)])

    def _orchestrate(self, request: int, name: str, context_json: str) -> OrchestratorResult:
        function = self.registry.orchestrator(name)
        if function is None:
            return missing_orchestrator(name)
        board = self.board
        if board is None:
            return invoke_orchestrator(function, context_json)
        slot = board.take_episode_slot()
        board.mark(slot, request)
        try:
            return invoke_orchestrator(function, context_json)
        finally:
            board.give_episode_slot(slot)

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
    parser.add_argument("--board", type=int, default=None, help="the running board's fd")
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
    board = None
    if args.board is not None:
        board = RunningBoard(args.activities, args.orchestrations, fd=args.board)
    child = _Child(
        channel, loaded.registry, str(loaded.app_dir), args.activities, args.orchestrations, board
    )
    gc.collect()
    gc.freeze()  # the imported app and libraries stay: full collections need not rescan them
    channel.send(("ready", os.getpid()))
    child.serve()
    # Running activities are abandoned, as the host abandons them on stop; flush the logs.
    logging.shutdown()
    os._exit(0)
