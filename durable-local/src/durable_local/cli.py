"""``durable-local start``: run a v2-model function app with the same URLs as ``func start``.

It loads the app (settings, host.json, function_app.py), composes a host over the store
(``durable_local.host``), serves until Ctrl-C or SIGTERM and then shuts down cleanly. In-flight
work resumes on the next start because the same store is reopened.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import durable_local
from durable_local.functions.loader import LoadedApp, load_app
from durable_local.functions.settings import LoaderError, local_http_port
from durable_local.host import MEMORY_STORE, FunctionsHost, HostOptions
from durable_local.http import DEFAULT_MAX_BODY_SIZE, HostConfig, HostKeys
from durable_local.http.dashboard import DEFAULT_BASE, dashboard_path
from durable_local.http.guard import binding_warning
from durable_local.http.urls import WEBHOOK_BASE
from durable_local.model.errors import StoreUnavailable
from durable_local.runtime.activities import DEFAULT_CRASH_LIMIT
from durable_local.store.lock import StoreInUse
from durable_local.triggers.timers import ScheduledTimer
from durable_local.worker.logs import configure_logging
from durable_local.worker.protocol import WorkerError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7071
DEFAULT_STORE = ".durable/durable.db"

ENV_FUNCTION_KEY = "DURABLE_LOCAL_FUNCTION_KEY"
ENV_MASTER_KEY = "DURABLE_LOCAL_MASTER_KEY"
ENV_SYSTEM_KEY = "DURABLE_LOCAL_SYSTEM_KEY"
ENV_MAX_BODY_SIZE = "DURABLE_LOCAL_MAX_BODY_SIZE"

log = logging.getLogger("durable_local.cli")


class UsageError(Exception):
    """A command-line or settings mistake; printed without a traceback."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="durable-local",
        description="A local stand-in for the Azure Functions host and the Durable Task "
        "extension: runs a v2-model function_app.py with Python alone.",
    )
    parser.add_argument("--version", action="version", version=durable_local.__version__)
    commands = parser.add_subparsers(dest="command", required=True)
    start = commands.add_parser("start", help="serve the function app (like `func start`)")
    start.add_argument(
        "--app-dir", default=".", help="folder with function_app.py and host.json (default .)"
    )
    start.add_argument(
        "--host",
        default=DEFAULT_HOST,
        help=f"address to bind (default {DEFAULT_HOST}; 0.0.0.0 exposes it to the network)",
    )
    start.add_argument(
        "--allowed-host",
        action="append",
        default=None,
        help="a name (besides loopback ones and --host) by which clients may address the Durable "
        "API while keys are off, e.g. a container's service name (repeatable)",
    )
    start.add_argument(
        "--port",
        type=int,
        default=None,
        help=f"port (default: local.settings.json Host.LocalHttpPort, else {DEFAULT_PORT})",
    )
    start.add_argument(
        "--store",
        default=DEFAULT_STORE,
        help=f"SQLite file, relative to the app dir, or {MEMORY_STORE} (default {DEFAULT_STORE})",
    )
    start.add_argument(
        "--function-key",
        action="append",
        default=None,
        help=f"enforce keys; a key for function-level routes (repeatable; env {ENV_FUNCTION_KEY},"
        " comma-separated)",
    )
    start.add_argument(
        "--master-key", default=None, help=f"enforce keys; the master key (env {ENV_MASTER_KEY})"
    )
    start.add_argument(
        "--system-key",
        default=None,
        help=f"enforce keys; the Durable API system key (env {ENV_SYSTEM_KEY})",
    )
    start.add_argument(
        "--max-body-size",
        type=int,
        default=None,
        help=f"largest request body in bytes (env {ENV_MAX_BODY_SIZE}; "
        f"default {DEFAULT_MAX_BODY_SIZE})",
    )
    start.add_argument(
        "--crash-limit",
        type=int,
        default=DEFAULT_CRASH_LIMIT,
        help="worker process crashes charged to one activity or orchestrator episode before its "
        f"task or instance fails (default {DEFAULT_CRASH_LIMIT})",
    )
    start.add_argument("--log-level", default="INFO", help="console log level (default INFO)")
    start.add_argument(
        "--in-process",
        action="store_true",
        help="run orchestrators and activities in threads of the host process instead of a "
        "separate worker process (for debuggers and profilers)",
    )
    start.add_argument(
        "--no-cpu-split",
        action="store_true",
        help="let the worker process use every CPU, the host's included (by default, on Linux "
        "with two or more CPUs, the host keeps one CPU and the worker gets the others)",
    )
    return parser


def host_keys(args: argparse.Namespace, environ: Mapping[str, str]) -> HostKeys:
    """Keys from the flags, else from the environment (which includes local.settings.json)."""
    function_keys: list[str] = list(args.function_key or [])
    if not function_keys and environ.get(ENV_FUNCTION_KEY):
        function_keys = [k.strip() for k in environ[ENV_FUNCTION_KEY].split(",") if k.strip()]
    return HostKeys(
        function_keys=tuple(function_keys),
        master_key=args.master_key or environ.get(ENV_MASTER_KEY) or None,
        system_key=args.system_key or environ.get(ENV_SYSTEM_KEY) or None,
    )


def max_body_size(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    value: Any = args.max_body_size
    if value is None and environ.get(ENV_MAX_BODY_SIZE):
        try:
            value = int(environ[ENV_MAX_BODY_SIZE])
        except ValueError:
            raise UsageError(f"{ENV_MAX_BODY_SIZE} must be a number of bytes.") from None
    if value is None:
        return DEFAULT_MAX_BODY_SIZE
    if value < 1:
        raise UsageError("The maximum body size must be at least 1 byte.")
    return int(value)


def store_location(store: str, app_dir: Path) -> str:
    if store == MEMORY_STORE:
        return store
    path = Path(store).expanduser()
    if not path.is_absolute():
        path = app_dir / path
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create the store's folder {path.parent}: {exc}") from None
    return str(path)


@dataclass(frozen=True)
class ServeOptions:
    """Everything ``durable-local start`` resolved from its arguments and the environment."""

    loaded: LoadedApp
    host: str
    port: int
    store: str
    config: HostConfig
    in_process: bool = False
    cpu_split: bool = True
    crash_limit: int = DEFAULT_CRASH_LIMIT


def describe_functions(
    loaded: LoadedApp,
    base_url: str,
    route_prefix: str,
    timers: Iterable[ScheduledTimer] = (),
    now: datetime | None = None,
) -> str:
    """The listing `func start` prints: HTTP functions with their URLs, then the rest; each
    timer with its next five occurrences, as Core Tools prints them."""
    registry = loaded.registry
    prefix = f"/{route_prefix}" if route_prefix else ""
    lines = ["", "Functions:", ""]
    for function in sorted(registry.http, key=lambda f: f.function_name.lower()):
        methods = ",".join(function.methods) if function.methods else "GET,POST,..."
        route = function.route.strip("/")
        lines.append(f"\t{function.function_name}: [{methods}] {base_url}{prefix}/{route}")
        hub = function.client_task_hub
        if hub and hub.lower() != loaded.settings.hub_name.lower():
            lines.append(
                f"\t  warning: its durable client names task hub '{hub}'; durable-local serves "
                f"only '{loaded.settings.hub_name}' and binds the client to it"
            )
        lines.append("")
    for orchestrator in sorted(registry.orchestrators.values(), key=lambda o: o.name.lower()):
        alias = (
            f" (as '{orchestrator.name}')"
            if orchestrator.name != orchestrator.function_name
            else ""
        )
        lines.append(f"\t{orchestrator.function_name}: orchestrationTrigger{alias}")
        lines.append("")
    for activity in sorted(registry.activities.values(), key=lambda a: a.name.lower()):
        alias = f" (as '{activity.name}')" if activity.name != activity.function_name else ""
        lines.append(f"\t{activity.function_name}: activityTrigger{alias}")
        lines.append("")
    moment = now or datetime.now(UTC)
    for timer in sorted(timers, key=lambda t: t.function.function_name.lower()):
        name = timer.function.function_name
        lines.append(f"\t{name}: timerTrigger")
        lines.append(
            f"\t  The next 5 occurrences of the '{name}' schedule "
            f"({timer.schedule.kind}: '{timer.schedule.expression}') will be:"
        )
        for occurrence in timer.schedule.occurrences(moment, 5, timer.zone):
            local = occurrence.astimezone(timer.zone)
            lines.append(f"\t    {local.isoformat()} ({occurrence.strftime('%Y-%m-%dT%H:%M:%SZ')})")
        lines.append("")
    for off in sorted(registry.disabled, key=lambda f: f.function_name.lower()):
        lines.append(f"\t{off.function_name}: {off.trigger_type} -- disabled")
        lines.append("")
    for unsupported in registry.unsupported:
        lines.append(
            f"\t{unsupported.function_name}: {unsupported.trigger_type} "
            "-- NOT SUPPORTED by durable-local, ignored"
        )
        lines.append("")
    return "\n".join(lines)


def dashboard_banner(base_url: str, path: str) -> str:
    """Where the dashboard is, and why it moved when an app route took its usual path."""
    line = f"Dashboard: {base_url}{path}"
    if path.rstrip("/") != DEFAULT_BASE:
        line += f"  (an app route takes {DEFAULT_BASE}/, so the dashboard moved here)"
    return line


async def serve(options: ServeOptions, stop: asyncio.Event | None = None) -> None:
    """Serve until ``stop`` is set (or SIGINT/SIGTERM), then shut down cleanly."""
    loaded = options.loaded
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    host = FunctionsHost(
        loaded,
        HostOptions(
            store=options.store,
            config=options.config,
            in_process=options.in_process,
            cpu_split=options.cpu_split,
            crash_limit=options.crash_limit,
        ),
    )
    try:
        base_url = await host.serve(options.host, options.port)
        listing = describe_functions(
            loaded, base_url, options.config.route_prefix, host.timers.timers.values()
        )
        print(listing, flush=True)
        print(
            f"Durable HTTP API: {base_url}{WEBHOOK_BASE}/  "
            f"(task hub '{loaded.settings.hub_name}', store {options.store})",
            flush=True,
        )
        print(dashboard_banner(base_url, dashboard_path(host.app)), flush=True)
        if options.config.keys.enforced:
            print("Keys are enforced (function/admin/system levels).", flush=True)
        warning = binding_warning(options.host, options.config.keys.enforced)
        if warning is not None:
            print(f"durable-local: {warning}", file=sys.stderr, flush=True)
        print(f"Host started on {base_url} -- press Ctrl+C to stop.", flush=True)
        await stop.wait()
        print("Stopping the host...", flush=True)
    finally:
        await host.close()
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(signum)
    print("Host stopped.", flush=True)


def prepare(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> ServeOptions:
    """Load the app and resolve every setting (raises LoaderError / UsageError)."""
    env = os.environ if environ is None else environ
    app_dir = Path(args.app_dir).resolve()
    loaded = load_app(app_dir)
    port = args.port
    if port is None:
        port = local_http_port(app_dir) or DEFAULT_PORT
    if not 0 <= port <= 65535:
        raise UsageError(f"Port {port} is out of range.")
    crash_limit = getattr(args, "crash_limit", DEFAULT_CRASH_LIMIT)
    if crash_limit < 1:
        raise UsageError("The crash limit must be at least 1.")
    return ServeOptions(
        loaded=loaded,
        host=args.host,
        port=port,
        store=store_location(args.store, loaded.app_dir),
        config=HostConfig(
            route_prefix=loaded.settings.route_prefix,
            keys=host_keys(args, env),
            max_body_size=max_body_size(args, env),
            app_dir=str(loaded.app_dir),
            bind_host=args.host,
            allowed_hosts=frozenset(
                name.strip().lower() for name in getattr(args, "allowed_host", None) or ()
            ),
        ),
        in_process=bool(getattr(args, "in_process", False)),
        cpu_split=not getattr(args, "no_cpu_split", False),
        crash_limit=crash_limit,
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        configure_logging(args.log_level)
        options = prepare(args)
    except (LoaderError, UsageError) as exc:
        print(f"durable-local: {exc}", file=sys.stderr)
        return 1
    # The worker runs with the app root as its working directory; user code may rely on it.
    os.chdir(options.loaded.app_dir)
    try:
        asyncio.run(serve(options))
    except (WorkerError, LoaderError, StoreInUse, StoreUnavailable) as exc:  # one line
        print(f"durable-local: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(
            f"durable-local: cannot serve on {options.host}:{options.port}: {exc}", file=sys.stderr
        )
        return 1
    except KeyboardInterrupt:
        return 130
    return 0
