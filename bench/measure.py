"""How a workload is measured: a fresh durable-local host (the composition root, as
``durable-local start`` builds it), a client process, memory sampling, the result record."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bench.constants import PAGE, ROOT, TERMINAL

# -- measurement helpers --------------------------------------------------------------------------
# The running host's worker process: its memory counts too (user code lives there).
WORKER_PIDS: set[int] = set()


def _rss_of(pid: int | str) -> int:
    try:
        with open(f"/proc/{pid}/statm") as statm:
            return int(statm.read().split()[1]) * PAGE
    except (FileNotFoundError, ProcessLookupError):
        return 0  # a worker that just exited


def rss_bytes() -> int:
    """Resident memory of this process plus the current host's worker process."""
    return _rss_of("self") + sum(_rss_of(pid) for pid in list(WORKER_PIDS))


class RssSampler:
    """Samples rss_bytes() every ``interval`` seconds in a thread (works while the loop is
    busy); ``peak()`` is the highest sample since the last ``mark()``."""

    def __init__(self, interval: float = 0.02) -> None:
        self.interval = interval
        self._peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._peak = max(self._peak, rss_bytes())

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def mark(self) -> None:
        self._peak = rss_bytes()

    def peak(self) -> int:
        return max(self._peak, rss_bytes())


@dataclass
class Result:
    workload: str
    size: int
    wall: float
    units: int
    unit: str
    floor: float
    floor_cpu: float
    episodes: int
    activities: int
    peak_rss_mb: float
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def throughput(self) -> float:
        return self.units / self.wall if self.wall else 0.0

    @property
    def overhead(self) -> float:
        return self.wall / self.floor if self.floor else float("inf")

    @property
    def overhead_cpu(self) -> float:
        return self.wall / self.floor_cpu if self.floor_cpu else float("inf")


class ClientProcess:
    """``python -m bench.client``: HTTP load from another process, as a real client is."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    @classmethod
    async def start(
        cls, base: str, mode: str, *args: str, cpus: set[int] | None = None
    ) -> ClientProcess:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.client",
            mode,
            base,
            *args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            cwd=ROOT,
        )
        if cpus is not None:  # any CPU, as a client elsewhere on the machine (not the host's)
            os.sched_setaffinity(process.pid, cpus)
        assert process.stdout is not None
        line = await process.stdout.readline()
        if line.strip() != b"ready":
            raise RuntimeError(f"bench client did not start: {line!r}")
        return cls(process)

    def go(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(b"go\n")

    async def result(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = await self.process.stdout.readline()
        if await self.process.wait() != 0 or not line:
            raise RuntimeError("bench client failed")
        result: dict[str, Any] = json.loads(line)
        return result


# -- one durable-local host -----------------------------------------------------------------------
class Host:
    """A fresh runtime + HTTP server on a free port, over a new SQLite file."""

    def __init__(
        self, loaded: Any, db_path: Path, in_process: bool = False, cpu_split: bool = True
    ) -> None:
        self.loaded = loaded
        self.db_path = db_path
        self.in_process = in_process
        self.cpu_split = cpu_split
        self.begin = 0.0  # when the measured part of the workload began

    async def client(self, *args: str) -> ClientProcess:
        """A bench client process, ready; the measured part of the workload starts now."""
        client = await ClientProcess.start(self.base, *args, cpus=self.all_cpus)
        self.begin = time.perf_counter()
        return client

    async def __aenter__(self) -> Host:
        from durable_local.host import FunctionsHost, HostOptions

        # As `durable-local start` runs: user code in a worker process and, unless
        # --no-cpu-split, the host on one CPU and the worker on the others.
        self.host = FunctionsHost(
            self.loaded,
            HostOptions(
                store=str(self.db_path), in_process=self.in_process, cpu_split=self.cpu_split
            ),
        )
        split = self.host.cpus
        self.all_cpus: set[int] | None = None if split is None else {split.host, *split.worker}
        self.runtime = self.host.runtime
        self.store = self.host.store
        self.worker = self.host.worker
        self.base = await self.host.serve("127.0.0.1", 0)
        if self.worker is not None and self.worker.pid is not None:
            WORKER_PIDS.add(self.worker.pid)
        self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100))
        # A second, read-only connection to watch progress without taking the store's lock.
        self.watch = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True)
        return self

    async def __aexit__(self, *exc: object) -> None:
        WORKER_PIDS.clear()
        await self.session.close()
        await self.host.close()
        self.watch.close()

    @property
    def dispatcher(self) -> Any:
        return self.runtime.dispatcher

    def count_finished(self, prefix: str = "") -> tuple[int, int]:
        """(terminal instances, of which not Completed) whose id starts with ``prefix``."""
        row = self.watch.execute(
            "SELECT COUNT(*), SUM(status != 'Completed') FROM instances "
            f"WHERE status IN {TERMINAL} AND substr(instance_id, 1, ?) = ?",
            (len(prefix), prefix),
        ).fetchone()
        return int(row[0]), int(row[1] or 0)

    async def wait_finished(self, count: int, prefix: str = "", timeout: float = 600.0) -> None:
        deadline = time.perf_counter() + timeout
        while True:
            done, bad = self.count_finished(prefix)
            if done >= count:
                if bad:
                    raise RuntimeError(f"{bad} instance(s) under '{prefix}' did not complete")
                return
            if time.perf_counter() > deadline:
                raise TimeoutError(f"only {done}/{count} instances finished in {timeout} s")
            await asyncio.sleep(0.005)

    async def output(self, instance_id: str) -> Any:
        status = await self.runtime.get_status(instance_id)
        if status["runtimeStatus"] != "Completed":
            raise RuntimeError(f"{instance_id} is {status['runtimeStatus']}: {status['output']}")
        return status["output"]


async def measure(
    name: str,
    size: int,
    unit: str,
    loaded: Any,
    workdir: Path,
    sampler: RssSampler,
    body: Callable[[Host], Awaitable[tuple[int, dict[str, Any]]]],
    in_process: bool = False,
    cpu_split: bool = True,
) -> Result:
    async with Host(loaded, workdir / f"{name}-{size}.db", in_process, cpu_split) as host:
        sampler.mark()
        host.begin = time.perf_counter()
        units, extra = await body(host)
        wall = time.perf_counter() - host.begin
        dispatcher = host.dispatcher
        result = Result(
            workload=name,
            size=size,
            wall=wall,
            units=units,
            unit=unit,
            floor=dispatcher.orchestrator_seconds,
            floor_cpu=dispatcher.orchestrator_cpu_seconds,
            episodes=dispatcher.episodes_run,
            activities=dispatcher.activities_run,
            peak_rss_mb=sampler.peak() / 2**20,
            extra=extra,
        )
    print(
        f"  {name:<10} {size:>6}  wall {result.wall:7.3f} s  {result.throughput:8.0f} {unit}/s  "
        f"floor {result.floor:7.3f} s  overhead {result.overhead:5.2f}x  "
        f"(CPU floor {result.floor_cpu:7.3f} s: {result.overhead_cpu:5.2f}x)  "
        f"episodes {result.episodes:>5}  peak RSS {result.peak_rss_mb:6.0f} MB",
        flush=True,
    )
    return result


# -- workloads ------------------------------------------------------------------------------------
