"""The function registry: a v2-model app's functions, classified by trigger (spec §8, §10.1).

Built from the ``Function`` list that ``FunctionRegister.get_functions()`` returns (call that once
per app object: a second call raises, spec §12.1). Durable names are looked up
case-insensitively, as the extension does (§7.1); the registered name is the trigger's
``orchestration`` / ``activity`` alias when given, else the function name.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

ORCHESTRATION_TRIGGER = "orchestrationTrigger"
ACTIVITY_TRIGGER = "activityTrigger"
HTTP_TRIGGER = "httpTrigger"
TIMER_TRIGGER = "timerTrigger"
ENTITY_TRIGGER = "entityTrigger"
DURABLE_CLIENT = "durableClient"


class RegistryError(Exception):
    """The app's functions cannot be served: a duplicate name or an invalid function."""


@dataclass(frozen=True)
class OrchestratorFunction:
    """An ``orchestrationTrigger`` function: its SDK handle, under its orchestration name."""

    name: str
    function_name: str
    handle: Callable[[Any], str]


@dataclass(frozen=True)
class ActivityFunction:
    """An ``activityTrigger`` function: the user function and how it wants to be called."""

    name: str
    function_name: str
    fn: Callable[..., Any]
    input_name: str
    wants_context: bool
    is_async: bool


@dataclass(frozen=True)
class HttpFunction:
    """An ``httpTrigger`` function: route, methods, auth level, and its durable client binding."""

    function_name: str
    fn: Callable[..., Any]
    trigger_name: str
    route: str
    methods: tuple[str, ...]
    auth_level: str
    client_binding: str | None
    client_task_hub: str | None
    client_connection: str | None
    wants_context: bool
    is_async: bool


@dataclass(frozen=True)
class TimerFunction:
    """A ``timerTrigger`` function: its schedule (as written: ``%SETTING%`` is resolved when it
    is scheduled), whether it runs at start-up and whether its schedule status is kept."""

    function_name: str
    fn: Callable[..., Any]
    arg_name: str
    schedule: str
    run_on_startup: bool
    use_monitor: bool | None
    client_binding: str | None
    wants_context: bool
    is_async: bool


@dataclass(frozen=True)
class UnsupportedFunction:
    """A function whose trigger durable-local does not run (listed at start)."""

    function_name: str
    trigger_type: str


@dataclass
class FunctionRegistry:
    """An app's functions by trigger; orchestrators and activities are found by name, ignoring
    case, as the host finds them."""

    orchestrators: dict[str, OrchestratorFunction] = field(default_factory=dict)
    activities: dict[str, ActivityFunction] = field(default_factory=dict)
    http: list[HttpFunction] = field(default_factory=list)
    timers: list[TimerFunction] = field(default_factory=list)
    unsupported: list[UnsupportedFunction] = field(default_factory=list)
    #: Functions turned off by ``AzureWebJobs.<name>.Disabled`` (name, trigger type).
    disabled: list[UnsupportedFunction] = field(default_factory=list)

    def orchestrator(self, name: str) -> OrchestratorFunction | None:
        return self.orchestrators.get(name.lower())

    def activity(self, name: str) -> ActivityFunction | None:
        return self.activities.get(name.lower())

    def timer(self, function_name: str) -> TimerFunction | None:
        wanted = function_name.lower()
        return next((t for t in self.timers if t.function_name.lower() == wanted), None)

    def disable(self, function_names: Iterable[str]) -> None:
        """Take these functions (by function name, any case) out of service: they are not run,
        not routed and not callable, as the host treats a disabled function."""
        off = {name.lower() for name in function_names}
        if not off:
            return
        for key, orchestrator in list(self.orchestrators.items()):
            if orchestrator.function_name.lower() in off:
                del self.orchestrators[key]
                self._disabled(orchestrator.function_name, ORCHESTRATION_TRIGGER)
        for key, activity in list(self.activities.items()):
            if activity.function_name.lower() in off:
                del self.activities[key]
                self._disabled(activity.function_name, ACTIVITY_TRIGGER)
        for http in [f for f in self.http if f.function_name.lower() in off]:
            self.http.remove(http)
            self._disabled(http.function_name, HTTP_TRIGGER)
        for timer in [f for f in self.timers if f.function_name.lower() in off]:
            self.timers.remove(timer)
            self._disabled(timer.function_name, TIMER_TRIGGER)
        for other in [f for f in self.unsupported if f.function_name.lower() in off]:
            self.unsupported.remove(other)
            self._disabled(other.function_name, other.trigger_type)

    def _disabled(self, function_name: str, trigger_type: str) -> None:
        self.disabled.append(UnsupportedFunction(function_name, trigger_type))

    @classmethod
    def from_app(cls, app: Any) -> FunctionRegistry:
        """Index a ``FunctionRegister`` (``FunctionApp`` / ``DFApp``)."""
        return cls.from_functions(app.get_functions())

    @classmethod
    def from_functions(cls, functions: Iterable[Any]) -> FunctionRegistry:
        registry = cls()
        for function in functions:
            registry._add(function)
        return registry

    def _add(self, function: Any) -> None:
        name: str = function.get_function_name()
        trigger = function.get_trigger()
        if trigger is None:
            raise RegistryError(f"Function '{name}' has no trigger.")
        trigger_dict: dict[str, Any] = trigger.get_dict_repr()
        kind: str = trigger_dict.get("type", "")
        fn = function.get_user_function()
        if kind == ORCHESTRATION_TRIGGER:
            registered = trigger_dict.get("orchestration") or name
            self._claim(self.orchestrators, registered, "orchestrator")
            self.orchestrators[registered.lower()] = OrchestratorFunction(registered, name, fn)
        elif kind == ACTIVITY_TRIGGER:
            registered = trigger_dict.get("activity") or name
            self._claim(self.activities, registered, "activity")
            self.activities[registered.lower()] = ActivityFunction(
                name=registered,
                function_name=name,
                fn=fn,
                input_name=trigger_dict["name"],
                wants_context=_wants_context(fn, {trigger_dict["name"]}),
                is_async=inspect.iscoroutinefunction(fn),
            )
        elif kind == HTTP_TRIGGER:
            self.http.append(_http_function(name, fn, trigger_dict, function.get_bindings()))
        elif kind == TIMER_TRIGGER:
            self.timers.append(_timer_function(name, fn, trigger_dict, function.get_bindings()))
        else:
            self.unsupported.append(UnsupportedFunction(name, kind))

    @staticmethod
    def _claim(table: dict[str, Any], registered: str, what: str) -> None:
        if registered.lower() in table:
            raise RegistryError(
                f"Two functions register the {what} name '{registered}' "
                "(names are case-insensitive)."
            )


def _wants_context(fn: Callable[..., Any], bindings: set[str]) -> bool:
    """A parameter literally named ``context`` that is no binding gets the invocation context."""
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return "context" in params and "context" not in bindings


def _client_binding(bindings: Iterable[Any]) -> tuple[dict[str, Any] | None, set[str]]:
    """A function's ``durableClient`` binding (if any) and the names of all its bindings."""
    client: dict[str, Any] | None = None
    names = set()
    for binding in bindings:
        rep = binding.get_dict_repr()
        names.add(rep.get("name"))
        if rep.get("type") == DURABLE_CLIENT:
            client = rep
    return client, names


def _enum_text(value: Any) -> str:
    raw = getattr(value, "value", value)
    return str(raw)


def _http_function(
    name: str, fn: Callable[..., Any], trigger: dict[str, Any], bindings: Iterable[Any]
) -> HttpFunction:
    client, names = _client_binding(bindings)
    methods = tuple(_enum_text(m).upper() for m in (trigger.get("methods") or ()))
    return HttpFunction(
        function_name=name,
        fn=fn,
        trigger_name=trigger["name"],
        route=trigger.get("route") or name,
        methods=methods,
        auth_level=_enum_text(trigger.get("authLevel") or "function").lower(),
        client_binding=client["name"] if client else None,
        client_task_hub=client.get("taskHub") if client else None,
        client_connection=client.get("connectionName") if client else None,
        wants_context=_wants_context(fn, names),
        is_async=inspect.iscoroutinefunction(fn),
    )


def _timer_function(
    name: str, fn: Callable[..., Any], trigger: dict[str, Any], bindings: Iterable[Any]
) -> TimerFunction:
    client, names = _client_binding(bindings)
    schedule = trigger.get("schedule")
    if not isinstance(schedule, str) or not schedule.strip():
        raise RegistryError(f"Timer function '{name}' has no schedule.")
    monitor = trigger.get("useMonitor")
    return TimerFunction(
        function_name=name,
        fn=fn,
        arg_name=trigger["name"],
        schedule=schedule,
        run_on_startup=bool(trigger.get("runOnStartup") or False),
        use_monitor=None if monitor is None else bool(monitor),
        client_binding=client["name"] if client else None,
        wants_context=_wants_context(fn, names),
        is_async=inspect.iscoroutinefunction(fn),
    )
