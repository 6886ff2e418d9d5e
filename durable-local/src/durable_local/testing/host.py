"""``DurableTestHost``: a function app on durable-local inside a test, with time skipping.

The app is loaded as ``durable-local start`` loads it (``local.settings.json``, ``host.json``,
``function_app.py``) and composed by the one composition root (``FunctionsHost``) with an
in-memory store and user code in threads of this process, so fakes, breakpoints and the test
share one process. The host's aiohttp app is served by aiohttp's ``TestServer`` on a free port
of 127.0.0.1 (loopback only): ``http`` is a test client for it, and ``client`` is the SDK's own
``DurableOrchestrationClient`` built from the binding the host gives HTTP functions, so it
speaks to the host's RPC endpoint exactly as a starter function does in Azure.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

from aiohttp.test_utils import TestClient, TestServer
from azure.durable_functions import DurableOrchestrationClient

from durable_local.functions.loader import LoadedApp, load_app
from durable_local.host import MEMORY_STORE, FunctionsHost, HostOptions
from durable_local.http import HostConfig, HostKeys
from durable_local.model import QueryFilter, RuntimeStatus
from durable_local.runtime.client import DurableRuntime
from durable_local.runtime.clock import Clock, ManualClock, SystemClock
from durable_local.testing.environment import EnvironmentPatch
from durable_local.testing.errors import (
    AppLoadError,
    DurableTestError,
    TimeSkippingError,
    UnexpectedStatusError,
    UnknownInstanceError,
    WaitTimeoutError,
)
from durable_local.testing.mocks import ActivityMock
from durable_local.testing.timeskip import AutoAdvance, advance_by
from durable_local.testing.views import (
    ActivityCall,
    HistoryEvent,
    InstanceStatus,
    activity_calls_in,
)

ClockChoice = Literal["manual", "system"] | Clock

#: Real seconds a wait gives up after, unless told otherwise.
DEFAULT_TIMEOUT = 30.0
_POLL_SECONDS = 0.005


def _make_clock(clock: ClockChoice, start_time: datetime | None) -> Clock:
    if clock == "manual":
        return ManualClock(start_time)
    if clock == "system":
        if start_time is not None:
            raise DurableTestError("start_time needs the manual clock (clock='manual')")
        return SystemClock()
    if isinstance(clock, str):
        raise DurableTestError(f"clock must be 'manual', 'system' or a Clock, not {clock!r}")
    return clock


class DurableTestHost:
    """A function app served by durable-local for one test (an async context manager).

    ``app_dir`` holds ``function_app.py`` (and ``host.json``, ``local.settings.json``).
    ``clock`` is ``"manual"`` (the default: time stands still until ``advance``; timers fire in
    milliseconds), ``"system"`` (wall time) or a ``ManualClock`` of your own; ``start_time``
    sets where a manual clock starts. ``settings`` are app settings put into ``os.environ``
    before the app is imported (they win over ``local.settings.json``) and taken out again on
    exit. ``auto_advance`` skips the clock to the next timer whenever the runtime is idle.
    ``port`` is the loopback port to serve on (default: any free one). ``keys`` enforces keys
    as ``durable-local start --function-key/--master-key/--system-key`` does (default: none, all
    routes open, as Core Tools); ``max_body_size`` limits request bodies (default 16 MiB).

    On exit the host stops the runtime, closes the server and the store, unloads the app's
    modules and restores ``os.environ``.
    """

    def __init__(
        self,
        app_dir: str | os.PathLike[str],
        *,
        clock: ClockChoice = "manual",
        settings: Mapping[str, Any] | None = None,
        auto_advance: bool = False,
        start_time: datetime | None = None,
        port: int | None = None,
        keys: HostKeys | None = None,
        max_body_size: int | None = None,
    ) -> None:
        self.app_dir = Path(app_dir)
        self._clock = _make_clock(clock, start_time)
        if auto_advance and not isinstance(self._clock, ManualClock):
            raise TimeSkippingError(
                "auto_advance needs the manual clock: the system clock cannot skip time"
            )
        self._settings = dict(settings or {})
        self._auto_advance_wanted = auto_advance
        self._port = port
        self._keys = keys
        self._max_body_size = max_body_size
        self._env: EnvironmentPatch | None = None
        self._loaded: LoadedApp | None = None
        self._host: FunctionsHost | None = None
        self._http: TestClient[Any, Any] | None = None
        self._client: DurableOrchestrationClient | None = None
        self._auto: AutoAdvance | None = None
        self._mocks: list[ActivityMock] = []

    # -- lifecycle -----------------------------------------------------------------------------
    async def start(self) -> DurableTestHost:
        """Load the app and serve it; ``async with`` calls this."""
        if self._host is not None:
            raise DurableTestError("this DurableTestHost is already started")
        self._env = EnvironmentPatch(self._settings)
        try:
            self._loaded = self._load()
            options = HostOptions(
                store=MEMORY_STORE, clock=self._clock, in_process=True, config=self._config()
            )
            self._host = FunctionsHost(self._loaded, options)
            server = TestServer(self._host.app, host="127.0.0.1", port=self._port)
            self._http = TestClient(server)
            await self._http.start_server()
            await self._host.start_triggers(self.url)
            binding = self._host.client_binding()
            assert binding is not None  # served
            self._client = DurableOrchestrationClient(binding)
            if self._auto_advance_wanted:
                self.auto_advance = True
        except BaseException:
            await self.close()
            raise
        return self

    def _load(self) -> LoadedApp:
        try:
            return load_app(self.app_dir)
        except Exception as exc:
            raise AppLoadError(
                f"durable-local could not load the function app in '{self.app_dir}':\n{exc}"
            ) from exc

    def _config(self) -> HostConfig | None:
        if self._keys is None and self._max_body_size is None:
            return None  # the app's route prefix, no keys: as `durable-local start`
        assert self._loaded is not None
        config = HostConfig(
            route_prefix=self._loaded.settings.route_prefix,
            keys=self._keys or HostKeys(),
            app_dir=str(self._loaded.app_dir),
        )
        if self._max_body_size is not None:
            config = dataclasses.replace(config, max_body_size=self._max_body_size)
        return config

    async def close(self) -> None:
        """Stop everything and give the process back as it was (idempotent)."""
        if self._auto is not None:
            await self._auto.stop()
            self._auto = None
        for mock in reversed(self._mocks):
            mock.restore()
        self._mocks.clear()
        http, self._http = self._http, None
        host, self._host = self._host, None
        if http is not None:
            await http.close()  # runs the app's cleanup: the runtime stops, the store closes
        if host is not None:
            await host.close()
        loaded, self._loaded = self._loaded, None
        if loaded is not None:
            loaded.unload()
        env, self._env = self._env, None
        if env is not None:
            env.restore()
        self._client = None

    async def __aenter__(self) -> DurableTestHost:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    def _started(self) -> FunctionsHost:
        if self._host is None:
            raise DurableTestError(
                "the DurableTestHost is not started: use `async with DurableTestHost(...)`"
            )
        return self._host

    # -- what a test talks to ------------------------------------------------------------------
    @property
    def runtime(self) -> DurableRuntime:
        """The embedded runtime (the lower-level client API)."""
        return self._started().runtime

    @property
    def loaded(self) -> LoadedApp:
        """The loaded app: its module, its functions and its host settings."""
        self._started()
        assert self._loaded is not None
        return self._loaded

    @property
    def http(self) -> TestClient[Any, Any]:
        """An aiohttp test client for the app's routes and the Durable HTTP API (paths such as
        ``/api/orders`` or ``/runtime/webhooks/durabletask/instances/{id}``)."""
        self._started()
        assert self._http is not None
        return self._http

    @property
    def url(self) -> str:
        """Where the host is served (``http://127.0.0.1:<port>``, no trailing slash)."""
        return str(self.http.make_url("")).rstrip("/")

    @property
    def client(self) -> DurableOrchestrationClient:
        """The SDK's ``DurableOrchestrationClient``, bound to this host."""
        self._started()
        assert self._client is not None
        return self._client

    # -- time ----------------------------------------------------------------------------------
    @property
    def clock(self) -> Clock:
        """The runtime's clock: a ``ManualClock`` unless the host runs on the system clock.
        Moving a manual clock directly fires due timers without waiting for their episodes;
        ``advance`` also waits."""
        return self._clock

    @property
    def now(self) -> datetime:
        """The runtime's current time (what ``context.current_utc_datetime`` will read)."""
        return self._clock.now()

    def _manual(self, what: str) -> ManualClock:
        if not isinstance(self._clock, ManualClock):
            raise TimeSkippingError(
                f"cannot {what}: this host runs on the system clock; "
                "create it with clock='manual' to skip time"
            )
        return self._clock

    async def advance(
        self, delta: timedelta | float, *, timeout: float = DEFAULT_TIMEOUT
    ) -> datetime:
        """Move time forward by ``delta`` (a timedelta or seconds), firing every timer due in
        that span in order and running the episodes they wake; returns the new time."""
        clock = self._manual("advance time")
        step = delta if isinstance(delta, timedelta) else timedelta(seconds=delta)
        return await advance_by(self.runtime, clock, step, timeout=timeout)

    @property
    def auto_advance(self) -> bool:
        """Whether time skips to the next timer whenever the runtime is idle (settable)."""
        return self._auto is not None and self._auto.running

    @auto_advance.setter
    def auto_advance(self, on: bool) -> None:
        if on:
            clock = self._manual("skip time automatically")
            if self._auto is None:
                self._auto = AutoAdvance(self.runtime, clock)
            self._auto.start()
        elif self._auto is not None:
            self._auto.cancel()

    # -- waiting -------------------------------------------------------------------------------
    async def wait_idle(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        """Until no episode or activity runs or is ready to run (pending timers do not count)."""
        try:
            await self.runtime.wait_idle(timeout=timeout)
        except TimeoutError as exc:
            raise WaitTimeoutError(str(exc)) from None

    async def wait_for_status(
        self, instance_id: str, *statuses: RuntimeStatus | str, timeout: float = DEFAULT_TIMEOUT
    ) -> InstanceStatus:
        """Until the instance is in one of ``statuses`` (default: any final status).

        Raises ``UnknownInstanceError`` when no such instance exists (and nothing running could
        still create it), ``UnexpectedStatusError`` when it finished in a status not waited
        for, and ``WaitTimeoutError`` after ``timeout`` real seconds.
        """
        wanted = {RuntimeStatus(s) for s in statuses}
        final = {s for s in RuntimeStatus if s.is_terminal}
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        store = self.runtime.store
        while True:
            record = store.get_instance(instance_id)
            if record is None and self.runtime.idle_now():
                raise UnknownInstanceError(instance_id)
            if record is not None:
                if record.status in (wanted or final):
                    return self.status(instance_id)
                if wanted and record.status.is_terminal:
                    status = self.status(instance_id)
                    raise UnexpectedStatusError(
                        instance_id,
                        record.status.value,
                        sorted(s.value for s in wanted),
                        status.output,
                    )
            if loop.time() >= deadline:
                if record is None:
                    raise UnknownInstanceError(instance_id, f"after waiting {timeout} s")
                names = " or ".join(sorted(s.value for s in wanted or final))
                raise WaitTimeoutError(
                    f"instance '{instance_id}' is {record.status.value}, not {names}, after "
                    f"{timeout} s" + self._timer_hint()
                )
            await asyncio.sleep(_POLL_SECONDS)

    def _timer_hint(self) -> str:
        if isinstance(self._clock, ManualClock) and not self.auto_advance:
            due = self.runtime.store.next_visible_at(self.now)
            if due is not None:
                return (
                    f" (a timer is due at {due.isoformat()} on the manual clock: "
                    "advance() or auto_advance=True fires it)"
                )
        return ""

    # -- looking -------------------------------------------------------------------------------
    def status(self, instance_id: str) -> InstanceStatus:
        """The instance's status as the Durable HTTP API reports it."""
        record = self.runtime.store.get_instance(instance_id)
        if record is None:
            raise UnknownInstanceError(instance_id)
        return InstanceStatus.from_record(record)

    def custom_status(self, instance_id: str) -> Any:
        """What the orchestrator last passed to ``set_custom_status`` (None when never)."""
        return self.status(instance_id).custom_status

    def history(self, instance_id: str) -> list[HistoryEvent]:
        """The instance's history (its current execution), oldest first, as typed events."""
        if self.runtime.store.get_instance(instance_id) is None:
            raise UnknownInstanceError(instance_id)
        return [
            HistoryEvent.from_stored(json.loads(text))
            for text in self.runtime.store.load_history(instance_id)
        ]

    def activity_calls(
        self, name: str | None = None, *, instance_id: str | None = None
    ) -> list[ActivityCall]:
        """Every activity call recorded in history (``name``: only that activity, ignoring
        case), of one instance or of all of them (oldest instance first)."""
        if instance_id is not None:
            ids = [instance_id]
        else:
            records = self.runtime.store.query(QueryFilter(), 1_000_000, None)
            ids = [record.instance_id for record in records]
        calls: list[ActivityCall] = []
        for iid in ids:
            calls.extend(activity_calls_in(iid, self.history(iid), name))
        return calls

    # -- doubles -------------------------------------------------------------------------------
    def mock_activity(self, name: str, fake: Callable[..., Any]) -> ActivityMock:
        """Replace activity ``name`` by ``fake`` (called with the activity's input; sync or
        ``async def``; what it returns or raises is recorded as the activity's) until the
        returned mock's ``restore()``, the end of its ``with`` block, or the host's exit."""
        mock = ActivityMock(self._started().loaded.registry, name, fake)
        self._mocks.append(mock)
        return mock
