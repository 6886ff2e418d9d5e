"""Clocks: the runtime reads time only through a ``Clock`` so tests can skip time.

``SystemClock`` is wall time. ``ManualClock`` stands still until ``advance`` is called; advancing
notifies the dispatcher, which fires every timer that became due at once, so a one-hour ack
timeout is tested in milliseconds.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Source of the current UTC time, with change notification for clocks that jump."""

    def now(self) -> datetime:
        """Current time, timezone-aware UTC."""
        ...

    def on_change(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call ``callback`` whenever time jumps (not as it flows); returns an unsubscriber."""
        ...

    def seconds_until(self, when: datetime) -> float | None:
        """Real seconds to sleep until ``when``, or None when only a jump can bring it."""
        ...


class SystemClock:
    """Wall-clock time; never jumps, so ``on_change`` callbacks are never called."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def on_change(self, callback: Callable[[], None]) -> Callable[[], None]:
        return lambda: None

    def seconds_until(self, when: datetime) -> float | None:
        return max(0.0, (when - self.now()).total_seconds())


class ManualClock:
    """A clock that moves only when told to; for tests (time-skipping)."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 1, tzinfo=UTC)
        if self._now.tzinfo is None:
            raise ValueError("ManualClock needs a timezone-aware start time")
        self._listeners: list[Callable[[], None]] = []

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta | float) -> datetime:
        """Move time forward by ``delta`` (a timedelta or seconds) and wake the dispatcher."""
        step = delta if isinstance(delta, timedelta) else timedelta(seconds=delta)
        if step < timedelta(0):
            raise ValueError("time only moves forward")
        self._now += step
        for listener in list(self._listeners):
            listener()
        return self._now

    def seconds_until(self, when: datetime) -> float | None:
        return 0.0 if when <= self._now else None

    def on_change(self, callback: Callable[[], None]) -> Callable[[], None]:
        self._listeners.append(callback)

        def unsubscribe() -> None:
            if callback in self._listeners:
                self._listeners.remove(callback)

        return unsubscribe
