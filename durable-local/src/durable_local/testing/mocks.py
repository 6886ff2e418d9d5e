"""Activity doubles: one activity of the loaded app replaced by a fake, by name, for a while.

The fake is called by the same activity pipeline as the real function (its input decoded, its
result encoded and recorded in history as the worker does), so the orchestrator is exercised
through real replay; only the activity's body is swapped.
"""

from __future__ import annotations

import dataclasses
import inspect
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any

from durable_local.functions.registry import ActivityFunction, FunctionRegistry
from durable_local.testing.errors import NotAnActivityError

_INPUT = "input"


def _is_async(fake: Callable[..., Any]) -> bool:
    call = getattr(fake, "__call__", None)  # noqa: B004 - an object with an async __call__
    return inspect.iscoroutinefunction(fake) or inspect.iscoroutinefunction(call)


class ActivityMock:
    """A fake standing in for one activity until ``restore()`` (or the end of its ``with``
    block, or of the test host). ``calls`` lists the inputs it received, in order."""

    def __init__(self, registry: FunctionRegistry, name: str, fake: Callable[..., Any]) -> None:
        if not callable(fake):
            raise TypeError(f"mock_activity needs a callable fake for '{name}', got {fake!r}")
        original = registry.activity(name)
        if original is None:
            raise NotAnActivityError(_not_an_activity(registry, name))
        self.name = original.name
        self.calls: list[Any] = []
        self._registry = registry
        self._key = name.lower()
        self._original = original
        self._lock = threading.Lock()
        self._active = True
        registry.activities[self._key] = self._double(original, fake)

    def _double(self, original: ActivityFunction, fake: Callable[..., Any]) -> ActivityFunction:
        def record(value: Any) -> None:
            with self._lock:
                self.calls.append(value)

        if _is_async(fake):

            async def call_async(**kwargs: Any) -> Any:
                record(kwargs[_INPUT])
                return await fake(kwargs[_INPUT])

            function: Callable[..., Any] = call_async
        else:

            def call_sync(**kwargs: Any) -> Any:
                record(kwargs[_INPUT])
                return fake(kwargs[_INPUT])

            function = call_sync
        return dataclasses.replace(
            original, fn=function, input_name=_INPUT, wants_context=False, is_async=_is_async(fake)
        )

    @property
    def active(self) -> bool:
        """Whether the fake is still in place."""
        return self._active

    def restore(self) -> None:
        """Put the real activity back (idempotent)."""
        if self._active:
            self._active = False
            self._registry.activities[self._key] = self._original

    def __enter__(self) -> ActivityMock:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.restore()


def _not_an_activity(registry: FunctionRegistry, name: str) -> str:
    known = sorted(function.name for function in registry.activities.values())
    what = "not an activity of this app"
    if registry.orchestrator(name) is not None:
        what = "an orchestrator, not an activity"
    elif any(function.function_name == name for function in registry.http):
        what = "an HTTP function, not an activity"
    listed = ", ".join(known) if known else "none"
    return f"Cannot mock '{name}': it is {what}. The app's activities: {listed}."
