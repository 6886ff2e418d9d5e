"""Shared by both workers: the activity threads, and a thread-safe mailbox drained on the loop."""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Callable, Coroutine, Iterable
from concurrent.futures import Future
from typing import Any

from durable_local.functions.registry import FunctionRegistry
from durable_local.worker.board import RunningBoard
from durable_local.worker.invoke import ActivityCall, ActivityOutcome, run_activity
from durable_local.worker.protocol import missing_activity


class ActivityRunner:
    """``threads`` worker threads taking activities from one queue, as the worker's pool does.

    Only this many activities run at once; the rest wait in the queue. ``report`` is called in
    the worker thread with each outcome. Thread ``n`` marks slot ``n`` of ``board`` with the key
    it is running; activities cancelled before they start are skipped without an outcome.
    """

    def __init__(
        self,
        registry: FunctionRegistry,
        threads: int,
        report: Callable[[ActivityOutcome], None],
        *,
        app_dir: str,
        loop: asyncio.AbstractEventLoop,
        board: RunningBoard | None = None,
    ) -> None:
        self._registry = registry
        self._report = report
        self._app_dir = app_dir
        self._loop = loop
        self._queue: queue.SimpleQueue[ActivityCall | None] = queue.SimpleQueue()
        self._stopped = False
        self._running_async: set[Future[Any]] = set()
        self._lock = threading.Lock()
        self._board = board
        self._cancelled: set[int] = set()
        self._threads = [
            threading.Thread(target=self._work, args=(n,), name=f"activity-{n}", daemon=True)
            for n in range(threads)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, calls: Iterable[ActivityCall]) -> None:
        for call in calls:
            self._queue.put(call)

    def cancel(self, keys: Iterable[int]) -> None:
        """Skip these activities if they have not started (their instance was terminated)."""
        with self._lock:
            self._cancelled.update(keys)

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

    def _work(self, slot: int) -> None:
        board = self._board
        while True:
            call = self._queue.get()
            if call is None or self._stopped:
                return
            if self._cancelled:
                with self._lock:
                    if call.key in self._cancelled:
                        self._cancelled.discard(call.key)
                        continue
            function = self._registry.activity(call.name)
            if board is not None:
                board.mark(slot, call.key)
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
            finally:
                if board is not None:
                    board.mark(slot, 0)
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
