"""Timer triggers, as the Functions host runs them (WebJobs TimerListener).

Each timer function sleeps on the runtime's clock until its next occurrence (so a
``ManualClock`` fires it in tests the moment time is advanced past it), then runs; an occurrence
that finds the previous run still going waits for it, and occurrences skipped meanwhile are not
made up. With ``useMonitor`` (the host's default, except for schedules that recur more often
than once a minute) the schedule status (Last, Next, LastUpdated) is kept in the store: an
occurrence missed while the runtime was down runs once at start with ``IsPastDue`` true.
``runOnStartup`` runs the function once when the runtime starts. A failing function is logged
and does not stop its schedule.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any

from durable_local.functions.registry import FunctionRegistry, TimerFunction
from durable_local.functions.schedule import Schedule, parse_schedule, time_zone
from durable_local.functions.settings import LoaderError, resolve_setting_references
from durable_local.model import parse_time
from durable_local.runtime.clock import Clock
from durable_local.store.base import Store
from durable_local.worker.trigger_call import TriggerFunctionError, invoke_timer

log = logging.getLogger("durable_local.triggers")

#: Schedules recurring more often than this are not monitored unless the function says so.
MONITOR_THRESHOLD = timedelta(minutes=1)


@dataclass(frozen=True)
class ScheduledTimer:
    """A timer function with its schedule resolved and parsed."""

    function: TimerFunction
    schedule: Schedule
    zone: tzinfo
    monitor: bool


def resolve_timers(registry: FunctionRegistry, environ: Mapping[str, str]) -> list[ScheduledTimer]:
    """Every timer function's schedule (``%SETTING%`` resolved, ``WEBSITE_TIME_ZONE`` applied);
    a schedule the host would refuse is a ``LoaderError`` naming the function."""
    zone = time_zone(environ.get("WEBSITE_TIME_ZONE"))
    timers = []
    for function in registry.timers:
        try:
            text = resolve_setting_references(function.schedule, environ)
            schedule = parse_schedule(text)
        except ValueError as exc:
            raise LoaderError(f"Timer function '{function.function_name}': {exc}") from None
        monitor = function.use_monitor
        if monitor is None:
            first, second = schedule.occurrences(datetime.now(zone), 2, zone)
            monitor = second - first >= MONITOR_THRESHOLD
        timers.append(ScheduledTimer(function, schedule, zone, monitor))
    return timers


class TimerService:
    """Runs an app's timer functions on the runtime's clock; ``run_now`` runs one by hand."""

    def __init__(
        self,
        timers: list[ScheduledTimer],
        store: Store,
        clock: Clock,
        *,
        app_dir: str,
        client_binding: Callable[[], str | None],
    ) -> None:
        self.timers = {timer.function.function_name.lower(): timer for timer in timers}
        self._store = store
        self._clock = clock
        self._app_dir = app_dir
        self._client_binding = client_binding
        self._tasks: list[asyncio.Task[None]] = []
        self._changed = asyncio.Event()
        self._unsubscribe: Callable[[], None] = lambda: None
        self._running: dict[str, asyncio.Lock] = {name: asyncio.Lock() for name in self.timers}

    async def start(self) -> None:
        loop = asyncio.get_running_loop()

        def changed() -> None:  # the clock jumped (a ManualClock): look at the time again
            loop.call_soon_threadsafe(self._changed.set)

        self._unsubscribe = self._clock.on_change(changed)
        for timer in self.timers.values():
            self._tasks.append(asyncio.create_task(self._run(timer)))

    async def stop(self) -> None:
        self._unsubscribe()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    async def run_now(self, function_name: str) -> bool:
        """Run a timer function once, now (``POST /admin/functions/{name}``); False when the app
        has no such timer function."""
        timer = self.timers.get(function_name.lower())
        if timer is None:
            return False
        await self._fire(timer, past_due=False, reason="manual trigger")
        return True

    # -- the schedule ----------------------------------------------------------------------------
    async def _run(self, timer: ScheduledTimer) -> None:
        name = timer.function.function_name
        status = self._status(timer) if timer.monitor else None
        now = self._clock.now()
        last: datetime | None = None
        if status is not None and status.get("Next") and parse_time(status["Next"]) < now:
            # Missed while the runtime was down: once, past due (the host's TimerListener).
            last = parse_time(status["Next"])
            await self._fire(timer, past_due=True, reason="past due", status=status)
        elif timer.function.run_on_startup:
            await self._fire(timer, past_due=False, reason="run on startup", status=status)
        due = timer.schedule.next_after(self._clock.now(), timer.zone)
        self._save(timer, last, due)
        log.info("durable-local: timer '%s' next runs at %s", name, _iso(due))
        while True:
            await self._sleep_until(due)
            await self._fire(timer, past_due=False, reason=f"timer fired at {_iso(due)}")
            after = max(self._clock.now(), due)
            last, due = due, timer.schedule.next_after(after, timer.zone)
            self._save(timer, last, due)

    async def _sleep_until(self, when: datetime) -> None:
        while self._clock.now() < when:
            self._changed.clear()
            wait = self._clock.seconds_until(when)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), wait)

    async def _fire(
        self,
        timer: ScheduledTimer,
        *,
        past_due: bool,
        reason: str,
        status: dict[str, Any] | None = None,
    ) -> None:
        name = timer.function.function_name
        invocation = str(uuid.uuid4())
        async with self._running[name.lower()]:  # one run of a timer function at a time
            log.info("Executing 'Functions.%s' (Reason='%s', Id=%s)", name, reason, invocation)
            begin = time.perf_counter()
            try:
                await invoke_timer(
                    timer.function,
                    past_due=past_due,
                    schedule_status=status,
                    client_binding=self._client_binding(),
                    function_directory=self._app_dir,
                    invocation_id=invocation,
                )
            except TriggerFunctionError as exc:
                log.error(
                    "Executed 'Functions.%s' (Failed, Id=%s, Duration=%dms): %s",
                    name,
                    invocation,
                    (time.perf_counter() - begin) * 1000,
                    exc,
                    exc_info=exc.__cause__,
                )
                return
            log.info(
                "Executed 'Functions.%s' (Succeeded, Id=%s, Duration=%dms)",
                name,
                invocation,
                (time.perf_counter() - begin) * 1000,
            )

    # -- schedule status -------------------------------------------------------------------------
    def _status(self, timer: ScheduledTimer) -> dict[str, Any] | None:
        text = self._store.get_schedule_status(timer.function.function_name)
        if text is None:
            return None
        try:
            status = json.loads(text)
        except json.JSONDecodeError:
            return None
        return status if isinstance(status, dict) else None

    def _save(self, timer: ScheduledTimer, last: datetime | None, due: datetime) -> None:
        if not timer.monitor:
            return
        status = {
            "Last": _iso(last) if last is not None else None,
            "Next": _iso(due),
            "LastUpdated": _iso(self._clock.now()),
        }
        try:
            self._store.set_schedule_status(timer.function.function_name, json.dumps(status))
        except Exception:  # a store that refuses writes: the schedule goes on, unrecorded
            log.warning(
                "durable-local: the schedule status of timer '%s' could not be kept",
                timer.function.function_name,
                exc_info=True,
            )


def _iso(moment: datetime) -> str:
    return moment.isoformat()
