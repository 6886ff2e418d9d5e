"""The composition root: store + language worker + runtime + HTTP app, for one loaded app.

The CLI (``durable-local start``), the benchmarks, the demo and the tests all build a host here,
so there is one way the pieces fit together:

* the store: SQLite in a file, or ``:memory:``;
* the language worker: a child process (as in Azure: user code and the host do not share a
  GIL; with ``cpu_split`` on Linux the host keeps one CPU and the worker gets the others), or
  threads of this process (``in_process``: debuggers, embedded runtimes, manual clocks);
* the runtime (``DurableRuntime``) over them, and the aiohttp app that serves it, started and
  stopped with the app;
* the timer triggers (``triggers.timers``), started once the host has an address to give
  their durable client binding, on the runtime's clock.
"""

from __future__ import annotations

import contextlib
import errno
import gc
import logging
import os
import socket
from dataclasses import dataclass, field
from types import TracebackType

from aiohttp import web

from durable_local.functions.loader import LoadedApp
from durable_local.http import HostConfig, create_app
from durable_local.http.binding import durable_client_binding
from durable_local.model.versions import Versioning
from durable_local.runtime.activities import DEFAULT_CRASH_LIMIT
from durable_local.runtime.client import DurableRuntime
from durable_local.runtime.clock import Clock, SystemClock
from durable_local.store.lock import StoreLock
from durable_local.store.sqlite import SqliteStore
from durable_local.triggers.timers import TimerService, resolve_timers
from durable_local.worker.cpus import CpuSplit, pinned_to, split_cpus
from durable_local.worker.process import ProcessWorker

log = logging.getLogger("durable_local.host")

MEMORY_STORE = ":memory:"
HEADER_TIMEOUT = 30.0


@dataclass(frozen=True)
class HostOptions:
    """How to compose a host; the defaults are those of ``durable-local start``."""

    store: str = MEMORY_STORE
    #: None: the app's route prefix and no keys.
    config: HostConfig | None = None
    clock: Clock = field(default_factory=SystemClock)
    #: Run user code in threads of this process instead of a worker process.
    in_process: bool = False
    cpu_split: bool = True
    activity_window: int | None = None
    #: Worker crashes charged to one activity (or episode) before its task (instance) fails.
    crash_limit: int = DEFAULT_CRASH_LIMIT
    #: Seconds a client has to send a request's headers (and an idle keep-alive connection
    #: lives): Kestrel's RequestHeadersTimeout.
    header_timeout: float = HEADER_TIMEOUT


class FunctionsHost:
    """One loaded app served by durable-local: ``app`` is the aiohttp application (its start and
    cleanup start and stop the runtime), ``serve`` binds it to a TCP port."""

    def __init__(self, loaded: LoadedApp, options: HostOptions | None = None) -> None:
        self.loaded = loaded
        self.options = options = options or HostOptions()
        # A schedule the host would refuse stops the start before anything is opened.
        scheduled = resolve_timers(loaded.registry, os.environ)
        # First of all: one runtime per store (raises StoreInUse, having touched nothing).
        self._store_lock = StoreLock(options.store) if options.store != MEMORY_STORE else None
        settings = loaded.settings
        self.config = options.config or HostConfig(
            route_prefix=settings.route_prefix, app_dir=str(loaded.app_dir)
        )
        self._placement = contextlib.ExitStack()
        self.cpus: CpuSplit | None = None
        self.worker: ProcessWorker | None = None
        if not options.in_process and os.name != "posix":
            # The worker's socket pair is inherited by fd (pass_fds), which Windows lacks.
            log.warning(
                "durable-local: no worker process on this platform; user code runs in-process"
            )
        elif not options.in_process:
            self.cpus = split_cpus() if options.cpu_split else None
            if self.cpus is not None:
                self._placement.enter_context(pinned_to(self.cpus.host))
                log.info(
                    "durable-local: host on CPU %d, worker on CPU(s) %s",
                    self.cpus.host,
                    ",".join(str(cpu) for cpu in sorted(self.cpus.worker)),
                )
            self.worker = ProcessWorker(
                str(loaded.app_dir),
                max_activities=settings.max_concurrent_activities,
                max_orchestrations=settings.max_concurrent_orchestrations,
                cpus=self.cpus.worker if self.cpus is not None else None,
                function_timeout=settings.function_timeout,
            )
        try:
            self.store = SqliteStore(options.store)
        except BaseException:
            self._release()
            raise
        self.runtime = DurableRuntime(
            loaded.registry,
            self.store,
            options.clock,
            hub_name=settings.hub_name,
            max_concurrent_activities=settings.max_concurrent_activities,
            max_concurrent_orchestrations=settings.max_concurrent_orchestrations,
            app_dir=str(loaded.app_dir),
            worker=self.worker,
            activity_window=options.activity_window,
            versioning=Versioning(
                settings.default_version, settings.version_match, settings.version_failure
            ),
            crash_limit=options.crash_limit,
        )
        self.timers = TimerService(
            scheduled,
            self.store,
            options.clock,
            app_dir=str(loaded.app_dir),
            client_binding=self.client_binding,
        )
        self._origin: str | None = None
        self.app: web.Application = create_app(
            self.runtime, loaded.registry, self.config, manage_runtime=True, runner=self.timers
        )
        self.app.on_cleanup.append(self._closed)
        self._runner: web.AppRunner | None = None
        self._closed_already = False
        self.base_url = ""

    async def serve(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Start the app (and so the runtime) on ``host:port`` (0: a free port); its base URL.

        The port is bound first: a port in use fails here before the runtime starts, and so
        before it releases any lease of the store."""
        sockets = bind_sockets(host, port)
        try:
            # aiohttp's keep-alive timer runs from the connection's start (and from each answer)
            # until a whole request head has arrived: a client trickling headers is cut off.
            self._runner = web.AppRunner(
                self.app,
                handle_signals=False,
                access_log=None,
                keepalive_timeout=self.options.header_timeout,
            )
            await self._runner.setup()
        except BaseException:
            for sock in sockets:
                sock.close()
            raise
        # Everything loaded so far (the app, azure-functions, the SDK, aiohttp) lives as long as
        # the process: keep it out of the cyclic GC's full collections, which would rescan it.
        gc.collect()
        gc.freeze()
        for sock in sockets:
            await web.SockSite(self._runner, sock).start()
        bound = int(sockets[0].getsockname()[1])
        shown = "localhost" if host in ("0.0.0.0", "::", "") else host
        self.base_url = f"http://{shown}:{bound}"
        await self.start_triggers(self.base_url)
        return self.base_url

    async def start_triggers(self, origin: str) -> None:
        """Start the timer triggers; their durable client binding points at ``origin``."""
        self._origin = origin
        await self.timers.start()

    def client_binding(self) -> str | None:
        """The durable client binding JSON for this host's functions (None until it is served)."""
        if self._origin is None:
            return None
        return durable_client_binding(
            origin=self._origin,
            rpc_base_url=f"{self._origin}/durabletask/",
            hub_name=self.runtime.hub_name,
            connection=self.config.connection_name,
            system_key=self.config.keys.system_key,
        )

    async def close(self) -> None:
        """Stop serving, stop the runtime and the worker, close the store."""
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()
        else:
            await self._closed(self.app)

    async def _closed(self, _app: web.Application) -> None:
        if not self._closed_already:
            self._closed_already = True
            await self.timers.stop()
            self.store.close()
            self._release()

    def _release(self) -> None:
        self._placement.close()
        if self._store_lock is not None:
            self._store_lock.release()

    async def __aenter__(self) -> FunctionsHost:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()


def bind_sockets(host: str, port: int, backlog: int = 128) -> list[socket.socket]:
    """Listening sockets for every address ``host`` names (as asyncio binds them), all on one
    port (with port 0: the one the first got). Raises OSError (e.g. the port is in use)."""
    infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    sockets: list[socket.socket] = []
    try:
        for family, kind, proto, _, address in dict.fromkeys(infos):
            if sockets and port == 0:
                address = (address[0], sockets[0].getsockname()[1], *address[2:])
            sock = socket.socket(family, kind, proto)
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if family == socket.AF_INET6:
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                sock.bind(address)
            except OSError as exc:
                sock.close()
                if exc.errno == errno.EADDRNOTAVAIL and (sockets or len(infos) > 1):
                    continue  # e.g. ::1 on a machine without IPv6: the other address serves
                raise
            sock.listen(backlog)
            sock.setblocking(False)
            sockets.append(sock)
        if not sockets:
            raise OSError(errno.EADDRNOTAVAIL, f"no address to bind for {host!r}")
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    return sockets
