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
import json
import logging
import os
import secrets
import shutil
import sys
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.constants import AZURE_STORAGE, DOCS_DIR, FIXTURE_DIR, NETHERITE, OUT_DIR, ROOT
from bench.measure import Host, Result, RssSampler, measure
from bench.report import charts, machine, markdown, median_run, scaling_ratios
from bench.workloads import chain, concurrent, devices, events, fan, soak

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
    # Consumers are told by a log line, not a queue (no Azurite either); the starters need an
    # ack-link key (the bench's devices acknowledge through the Durable HTTP API).
    os.environ["NOTIFIER"] = "log"
    os.environ.setdefault("ACK_SIGNING_KEY", secrets.token_urlsafe(32))
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
