"""durable-local benchmarks (issue 6): measured against the SDK replay floor and Azure's targets.

Run from the repository root (one command, every workload in one run)::

    python -m bench                 # the full run (a few minutes on 2 cores)
    python -m bench --quick         # smaller sizes, for a smoke check (~20 s)
    python -m bench --only fan events --publish

Each workload gets a fresh durable-local host, in this process, set up as ``durable-local
start`` sets it up: a ``DurableRuntime`` on a new SQLite file (WAL) with the system clock and
user code in a worker process (``--in-process``: in threads of this process), served by the
real aiohttp app on a free port. The HTTP workloads (external events, device provisioning) go
through that HTTP server exactly as a client would; the others start their instances through
the runtime API the HTTP API calls. The replay floor is ``Dispatcher.orchestrator_seconds``:
the time spent inside the SDK orchestrator handle, timed by the worker around each call, so
``host overhead = wall / floor``. Memory figures add the worker process's RSS to this one's.

Results go to ``bench/out/`` (results.json, results.md, two PNG charts); ``--publish`` also
copies the charts to ``docs/benchmarks-*.png``. Benchmarks print figures and never assert on
time; they do check that every workload produced the right output.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import itertools
import json
import logging
import os
import platform
import shutil
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
FIXTURE_DIR = Path(__file__).resolve().parent / "fixture_app"
OUT_DIR = Path(__file__).resolve().parent / "out"
DOCS_DIR = ROOT / "docs"
DURABLE = "/runtime/webhooks/durabletask"
TERMINAL = ("Completed", "Failed", "Terminated")
PAGE = os.sysconf("SC_PAGE_SIZE")

# Published per-instance targets (Azure Storage provider) and Netherite single-worker figures.
AZURE_STORAGE = {
    "sequential activities/s": 5,
    "fan-out activities/s": 100,
    "fan-in responses/s": 150,
    "external events/s": 50,
}
NETHERITE = {"sequential activities/s": "250-350", "parallel activities/s": "500-2,000"}


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
def chain(n: int) -> Callable[[Host], Awaitable[tuple[int, dict[str, Any]]]]:
    async def body(host: Host) -> tuple[int, dict[str, Any]]:
        iid = await host.runtime.start_new("bench_chain", str(n), "chain")
        await host.wait_finished(1, iid)
        assert await host.output(iid) == sum(range(n))
        return n, {}

    return body


def fan(n: int) -> Callable[[Host], Awaitable[tuple[int, dict[str, Any]]]]:
    async def body(host: Host) -> tuple[int, dict[str, Any]]:
        iid = await host.runtime.start_new("bench_fan", str(n), "fan")
        await host.wait_finished(1, iid)
        assert await host.output(iid) == sum(range(n))
        return n, {}

    return body


def events(n: int, concurrency: int = 8) -> Callable[[Host], Awaitable[tuple[int, dict[str, Any]]]]:
    async def body(host: Host) -> tuple[int, dict[str, Any]]:
        iid = "events"
        client = await host.client("events", iid, str(n), str(concurrency))
        url = f"{host.base}{DURABLE}/orchestrators/bench_events/{iid}"
        async with host.session.post(url, json=str(n)) as response:
            assert response.status == 202, await response.text()
        client.go()
        raised = await client.result()
        await host.wait_finished(1, iid)
        assert await host.output(iid) == n
        return n, raised

    return body


def devices(n: int) -> Callable[[Host], Awaitable[tuple[int, dict[str, Any]]]]:
    """The app's provisioning run over HTTP; each child is acked as soon as it waits."""

    async def body(host: Host) -> tuple[int, dict[str, Any]]:
        device_ids = [f"dev-{i:05d}" for i in range(n)]
        payload = {"deviceIds": device_ids, "ackTimeoutSeconds": 900}
        parent = f"devices-{n}"
        client = await host.client("acks", f"{parent}:device:", str(n))
        url = f"{host.base}/api/provision-devices?instanceId={parent}"
        async with host.session.post(url, json=payload) as response:
            assert response.status == 202, await response.text()
        client.go()
        acks = await client.result()
        await host.wait_finished(n + 1, parent)  # the parent and its children
        output = await host.output(parent)
        assert len(output["succeeded"]) == n and not output["failed"], output["failed"][:3]
        assert all(d["digestVerified"] for d in output["devices"].values())
        return n, acks

    return body


def concurrent(n: int) -> Callable[[Host], Awaitable[tuple[int, dict[str, Any]]]]:
    async def body(host: Host) -> tuple[int, dict[str, Any]]:
        for i in range(n):
            await host.runtime.start_new("bench_small", None, f"small-{i:06d}")
        await host.wait_finished(n, "small-")
        return n, {}

    return body


def soak(n: int, window: int = 500) -> Callable[[Host], Awaitable[tuple[int, dict[str, Any]]]]:
    """``n`` small orchestrations, at most ``window`` in flight; RSS sampled along the way."""

    async def body(host: Host) -> tuple[int, dict[str, Any]]:
        samples: list[tuple[float, int, float]] = []  # (seconds, finished, RSS MB)
        begin = time.perf_counter()
        submitted = finished = 0
        next_sample = 0.0
        while finished < n:
            finished, bad = host.count_finished("soak-")
            if bad:
                raise RuntimeError(f"{bad} soak instance(s) did not complete")
            while submitted < n and submitted - finished < window:
                await host.runtime.start_new("bench_small", None, f"soak-{submitted:06d}")
                submitted += 1
            now = time.perf_counter() - begin
            if now >= next_sample:
                samples.append((now, finished, rss_bytes() / 2**20))
                next_sample = now + 0.25
            await asyncio.sleep(0.01)
        samples.append((time.perf_counter() - begin, finished, rss_bytes() / 2**20))
        return n, {"samples": samples, **flatness(samples, n)}

    return body


def flatness(samples: list[tuple[float, int, float]], n: int) -> dict[str, float]:
    """RSS after the first 20 % of the soak (warmed up) against the last 20 %."""
    early = [rss for _, done, rss in samples if 0.1 * n <= done <= 0.3 * n]
    late = [rss for _, done, rss in samples if done >= 0.8 * n]
    if not early or not late:
        return {}
    return {
        "rss_early_mb": max(early),
        "rss_late_mb": max(late),
        "rss_growth_mb": max(late) - max(early),
    }


# -- reporting ------------------------------------------------------------------------------------
def machine() -> dict[str, Any]:
    return {
        "date": dt.datetime.now().astimezone().isoformat(timespec="minutes"),
        "cores": os.cpu_count(),
        "cpu": _cpu_model(),
        "python": platform.python_version(),
        "sdk": metadata.version("azure-functions-durable"),
        "sqlite": sqlite3.sqlite_version,
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


LABELS = {
    "chain": "1. sequential chain",
    "fan": "2. fan-out/fan-in",
    "events": "3. external events (HTTP)",
    "devices": "4. device provisioning + acks (HTTP)",
    "concurrent": "5. concurrent small orchestrations",
    "soak": "6. soak (small orchestrations)",
}


def markdown(results: list[Result], info: dict[str, Any]) -> str:
    lines = [
        f"Machine: {info['cores']} cores ({info['cpu']}), Python {info['python']}, "
        f"azure-functions-durable {info['sdk']}, SQLite {info['sqlite']}; {info['date']}.",
        "",
        "| workload | size | wall (s) | throughput | floor (s) | host overhead "
        "| CPU floor (s) | overhead vs CPU floor | episodes | peak RSS (MB) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        spread = ""
        if r.extra.get("runs", 1) > 1:
            low, high = r.extra["overhead_range"]
            spread = f" ({low:.2f}-{high:.2f}, {r.extra['runs']} runs)"
        lines.append(
            f"| {LABELS[r.workload]} | {r.size:,} | {r.wall:.2f} | {r.throughput:,.0f} {r.unit}/s "
            f"| {r.floor:.2f} | {r.overhead:.2f}x{spread} | {r.floor_cpu:.2f} "
            f"| {r.overhead_cpu:.2f}x | {r.episodes:,} | {r.peak_rss_mb:.0f} |"
        )
    scaling = scaling_ratios(results)
    if scaling:
        lines += ["", "Fan-out scaling: " + ", ".join(f"{k} = {v:.2f}" for k, v in scaling.items())]
    for r in results:
        if r.workload == "soak" and "rss_growth_mb" in r.extra:
            lines.append(
                f"Soak memory: {r.extra['rss_early_mb']:.0f} MB after 10-30 % of the run, "
                f"{r.extra['rss_late_mb']:.0f} MB in the last 20 % "
                f"(growth {r.extra['rss_growth_mb']:+.1f} MB)."
            )
    return "\n".join(lines) + "\n"


def median_run(runs: list[Result]) -> Result:
    """The run with the median host overhead, carrying the spread of all of them."""
    ordered = sorted(runs, key=lambda r: r.overhead)
    middle = ordered[(len(ordered) - 1) // 2]
    if len(runs) > 1:
        middle.extra["runs"] = len(runs)
        middle.extra["overhead_range"] = (ordered[0].overhead, ordered[-1].overhead)
        middle.extra["walls"] = [r.wall for r in runs]
    return middle


def scaling_ratios(results: list[Result]) -> dict[str, float]:
    """t(2N)/t(N) from the median wall time of each size's runs."""
    fans = sorted((r for r in results if r.workload == "fan"), key=lambda r: r.size)
    ratios = {}
    for small, big in itertools.pairwise(fans):
        ratios[f"t({big.size})/t({small.size})"] = median_wall(big) / median_wall(small)
    return ratios


def median_wall(result: Result) -> float:
    return float(statistics.median(result.extra.get("walls") or [result.wall]))


def charts(results: list[Result], out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    fans = sorted((r for r in results if r.workload == "fan"), key=lambda r: r.size)
    if fans:
        fig, ax = plt.subplots(figsize=(6.4, 4.2))
        sizes = [r.size for r in fans]
        ax.plot(sizes, [median_wall(r) for r in fans], "o-", label="wall (durable-local, median)")
        ax.plot(sizes, [r.floor for r in fans], "s--", label="floor (time in the SDK handle)")
        base = fans[0]
        ax.plot(
            sizes,
            [median_wall(base) * s / base.size for s in sizes],
            ":",
            color="grey",
            label="linear from the smallest run",
        )
        ax.set_xscale("log", base=2)
        ax.set_yscale("log", base=2)
        ax.set_xticks(sizes, [f"{s:,}" for s in sizes])
        ax.set_xlabel("activities in one fan-out/fan-in")
        ax.set_ylabel("seconds")
        ax.set_title("Fan-out/fan-in scaling")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
        fig.tight_layout()
        path = out / "benchmarks-scaling.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)
    soaks = [r for r in results if r.workload == "soak"]
    if soaks:
        samples = soaks[0].extra["samples"]
        fig, ax = plt.subplots(figsize=(6.4, 4.2))
        ax.plot([s[1] for s in samples], [s[2] for s in samples], "-", linewidth=2)
        ax.set_xlabel("orchestrations completed")
        ax.set_ylabel("RSS, host + worker process (MB)")
        ax.set_ylim(0, max(s[2] for s in samples) * 1.25)
        ax.set_title(f"Memory over the soak ({soaks[0].size:,} small orchestrations)")
        ax.grid(True, alpha=0.3)
        fig.tight_layout()
        path = out / "benchmarks-soak.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)
    return written


# -- main -----------------------------------------------------------------------------------------
# Short workloads, run --repeat times (the median run is reported); the others run once.
REPEATED = {"chain", "fan", "events"}

SIZES = {
    "full": {
        "chain": [50],
        "fan": [1000, 2000, 4000],
        "events": [1000],
        "devices": [100, 500, 1000],
        "concurrent": [500],
        "soak": [10_000],
    },
    "quick": {
        "chain": [50],
        "fan": [250, 500, 1000],
        "events": [200],
        "devices": [50, 100],
        "concurrent": [100],
        "soak": [1000],
    },
}
UNITS = {
    "chain": "activities",
    "fan": "activities",
    "events": "events",
    "devices": "devices",
    "concurrent": "orchestrations",
    "soak": "orchestrations",
}
FACTORIES: dict[str, Callable[[int], Callable[[Host], Awaitable[tuple[int, dict[str, Any]]]]]] = {
    "chain": chain,
    "fan": fan,
    "events": events,
    "devices": devices,
    "concurrent": concurrent,
    "soak": soak,
}


def load_apps() -> tuple[Any, Any]:
    from durable_local.functions.loader import load_app

    # The product app caps a run at MAX_DEVICES_PER_RUN (default 500): lift it for the 1,000
    # device run. Keys are not enforced by the bench host, so the starters' auth level is moot.
    os.environ["MAX_DEVICES_PER_RUN"] = "10000"
    # Packages in worker memory: the bench measures the host, not Blob Storage / Azurite.
    os.environ["PACKAGE_STORE"] = "memory"
    product = load_app(ROOT)
    fixture = load_app(FIXTURE_DIR)
    for name in ("workflows", "azure", "durable_local"):
        logging.getLogger(name).setLevel(logging.WARNING)
    return product, fixture


async def run(args: argparse.Namespace) -> list[Result]:
    product, fixture = load_apps()
    sizes = SIZES["quick" if args.quick else "full"]
    repeat = args.repeat or (1 if args.quick else 7)
    sampler = RssSampler()
    sampler.start()
    results: list[Result] = []
    workdir = Path(tempfile.mkdtemp(prefix="durable-bench-"))
    try:
        # The soak runs first, so that its memory curve starts from a fresh process rather
        # than from the high-water mark of the 1,000-device run.
        for name in sorted(FACTORIES, key=lambda name: name != "soak"):
            if args.only and name not in args.only:
                continue
            loaded = product if name == "devices" else fixture
            for size in args.sizes or sizes[name]:
                runs = [
                    await measure(
                        name,
                        size,
                        UNITS[name],
                        loaded,
                        workdir,
                        sampler,
                        FACTORIES[name](size),
                        args.in_process,
                        not getattr(args, "no_cpu_split", False),
                    )
                    for _ in range(repeat if name in REPEATED else 1)
                ]
                results.append(median_run(runs))
    finally:
        sampler.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    order = list(FACTORIES)
    return sorted(results, key=lambda r: (order.index(r.workload), r.size))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes (a smoke run)")
    parser.add_argument("--only", nargs="+", choices=list(FACTORIES), help="run only these")
    parser.add_argument(
        "--sizes", nargs="+", type=int, help="override the sizes (with --only, for profiling)"
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=None,
        help="runs of each short workload (chain, fan, events); the median run is reported "
        "(default 7, 1 with --quick: single runs on a shared VM vary by 20-30 %%)",
    )
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="run user code in threads of the host process (durable-local start --in-process)",
    )
    parser.add_argument(
        "--no-cpu-split",
        action="store_true",
        help="let the worker use every CPU (durable-local start --no-cpu-split)",
    )
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="output folder (bench/out)")
    parser.add_argument(
        "--publish", action="store_true", help="also copy the charts to docs/benchmarks-*.png"
    )
    args = parser.parse_args(argv)
    info = machine()
    print(
        f"durable-local benchmarks: {info['cores']} cores, Python {info['python']}, "
        f"SDK {info['sdk']}, {info['date']}",
        flush=True,
    )
    logging.basicConfig(level=logging.WARNING)
    results = asyncio.run(run(args))
    args.out.mkdir(parents=True, exist_ok=True)
    table = markdown(results, info)
    print()
    print(table)
    (args.out / "results.md").write_text(table)
    (args.out / "results.json").write_text(
        json.dumps(
            {
                "machine": info,
                "anchors": {"azure_storage": AZURE_STORAGE, "netherite": NETHERITE},
                "results": [
                    {
                        **asdict(r),
                        "throughput": r.throughput,
                        "overhead": r.overhead,
                        "overhead_cpu": r.overhead_cpu,
                    }
                    for r in results
                ],
                "scaling": scaling_ratios(results),
            },
            indent=1,
        )
    )
    for path in charts(results, args.out):
        print(f"chart: {path}")
        if args.publish:
            shutil.copy(path, DOCS_DIR / path.name)
            print(f"published: {DOCS_DIR / path.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
