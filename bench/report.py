"""Reporting: the machine, the markdown table against the published targets, the charts."""

from __future__ import annotations

import datetime as dt
import itertools
import os
import platform
import sqlite3
import statistics
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.measure import Result


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
