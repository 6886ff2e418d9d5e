"""Time skipping: the test host's manual clock moved timer by timer, or whenever idle.

``advance(delta)`` does not jump to the end of the span at once: it moves to each timer due in
the span in turn and lets the runtime settle in between, so the episodes a timer wakes run
before the next timer fires, and a timer created by one of them inside the span fires too,
all at the times the orchestrations asked for.

``AutoAdvance`` is a background task that moves the clock to the next timer whenever the
runtime has nothing else to do (as Temporal's time-skipping test environment does), so an
orchestration waiting 72 hours for a timeout finishes as fast as its episodes run.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime, timedelta

from durable_local.runtime.client import DurableRuntime
from durable_local.runtime.clock import ManualClock

log = logging.getLogger("durable_local.testing")

_POLL_SECONDS = 0.005


def next_timer(runtime: DurableRuntime) -> datetime | None:
    """When the earliest pending timer (any queued message not yet visible) comes due."""
    return runtime.store.next_visible_at(runtime.clock.now())


async def advance_by(
    runtime: DurableRuntime, clock: ManualClock, delta: timedelta, *, timeout: float
) -> datetime:
    """Move ``clock`` forward by ``delta``, firing every timer due in the span in order."""
    if delta < timedelta(0):
        raise ValueError(f"time only moves forward; cannot advance by {delta}")
    target = clock.now() + delta
    await runtime.wait_idle(timeout=timeout)
    while True:
        due = next_timer(runtime)
        if due is None or due > target:
            break
        clock.advance(due - clock.now())
        await runtime.wait_idle(timeout=timeout)
    clock.advance(target - clock.now())
    await runtime.wait_idle(timeout=timeout)
    return clock.now()


class AutoAdvance:
    """Skips the clock to the next timer whenever the runtime is idle, until ``stop()``."""

    def __init__(self, runtime: DurableRuntime, clock: ManualClock) -> None:
        self._runtime = runtime
        self._clock = clock
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        """Whether time is being skipped."""
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        """Start skipping (on the running event loop); a no-op when already running."""
        if not self.running:
            self._task = asyncio.create_task(self._run(), name="durable-local-auto-advance")

    def cancel(self) -> None:
        """Stop skipping at the next turn of the event loop (callable from sync code)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()  # the loop holds the task until the cancellation is delivered

    async def stop(self) -> None:
        """Stop skipping; the clock stays where it is."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _idle(self) -> bool:
        return self._runtime.idle_now()

    async def _run(self) -> None:
        quiet = 0
        while True:
            await asyncio.sleep(_POLL_SECONDS)
            if not self._idle():
                quiet = 0
                continue
            # Idle twice in a row: nothing was about to be claimed either (as wait_idle).
            quiet += 1
            if quiet < 2:
                self._runtime.dispatcher.wake()
                continue
            quiet = 0
            due = next_timer(self._runtime)
            if due is not None:
                log.debug("durable-local: skipping time to %s", due.isoformat())
                self._clock.advance(max(due - self._clock.now(), timedelta(0)))
