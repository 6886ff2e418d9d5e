"""The dashboard in a real browser on a big store (issue 17): figures, never assertions on time.

Run from the repository root::

    python -m bench.dashboard                       # 10,000 instances, a 500-device run
    python -m bench.dashboard --instances 2000 --devices 100 --runs 3     # a quick look
    python -m bench.dashboard --screenshots docs    # the docs' screenshots (a small store)

A durable-local host is composed as ``durable-local start`` composes it (SQLite file, system
clock, user code in a worker process) over ``bench/dashboard_app``, served on a free port. The
store is filled through the runtime API (the instances, then one devices run), and once it is
idle Debian's Chromium (``/usr/bin/chromium``, headless, through Playwright) opens, in a fresh
browser context each time (no cache):

* the instances list: ``dashboard:list-rendered`` (first page of 50 rows drawn) and
  ``dashboard:summary-rendered`` (counts per status and the histogram over the whole store);
* the devices run's instance page: ``dashboard:timeline-rendered`` (its Gantt of one bar per
  child drawn).

"page load" figures are the page's own ``performance.mark`` (milliseconds since the navigation
started: loading the page and its scripts, the API calls, drawing); "click" figures start at an
in-page navigation with the dashboard already loaded (the API calls and drawing). Each is the
median of ``--runs`` loads, after one warm-up. The browser runs on every CPU; the host keeps the
CPU split of ``durable-local start``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

from devtools.browser import CHROMIUM, CHROMIUM_ARGS
from durable_local.functions.loader import load_app
from durable_local.host import FunctionsHost, HostOptions
from durable_local.runtime.clock import ManualClock

APP_DIR = Path(__file__).resolve().parent / "dashboard_app"
TARGETS = {"list": 300.0, "timeline": 1000.0}
RUN_ID = "devices-run"
# A function, not an expression: the page's Content-Security-Policy forbids eval.
MARKED = "name => performance.getEntriesByName(name, 'mark').length > 0"


@contextlib.contextmanager
def unpinned() -> Iterator[None]:
    """Start the browser on every CPU: the host pins this process to its own CPU (as
    ``durable-local start`` does), and a user's browser is no part of that split."""
    if not hasattr(os, "sched_setaffinity"):
        yield
        return
    saved = os.sched_getaffinity(0)
    os.sched_setaffinity(0, range(os.cpu_count() or 1))
    try:
        yield
    finally:
        os.sched_setaffinity(0, saved)


async def launch(playwright: Any) -> Any:
    with unpinned():
        return await playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )


async def fill(host: FunctionsHost, instances: int, devices: int) -> float:
    """``instances`` small instances (one in 20 left waiting) and one ``devices``-device run."""
    began = time.perf_counter()
    runtime = host.runtime
    for i in range(instances - 1):
        if i % 20 == 0:
            await runtime.start_new("waiting", None, f"wait-{i:05d}")
        else:
            await runtime.start_new("quick", f"item {i}", f"item-{i:05d}")
    ids = json.dumps([f"dev-{d:04d}" for d in range(devices)])
    await runtime.start_new("devices_run", ids, RUN_ID)
    status = await runtime.wait_for_status(RUN_ID, timeout=1800)
    await runtime.wait_idle(timeout=1800)
    if status["runtimeStatus"] != "Completed" or status["output"]["devices"] != devices:
        raise RuntimeError(f"the devices run did not complete: {status}")
    return time.perf_counter() - began


async def fill_spread(host: FunctionsHost, clock: ManualClock) -> None:
    """The screenshots' store: starts spread over two hours (a manual clock), a few waiting,
    a failed one, and a 12-device run."""
    runtime = host.runtime
    for i in range(60):
        clock.advance(timedelta(minutes=2 + (i * 7) % 5))
        if i % 9 == 0:
            await runtime.start_new("waiting", None, f"approval-{i:03d}")
        elif i % 17 == 0:
            await runtime.start_new("broken", None, f"import-{i:03d}")
        else:
            await runtime.start_new("quick", None, f"order-{i:03d}")
        await runtime.wait_idle(timeout=60)
    ids = json.dumps([f"dev-{d:04d}" for d in range(12)])
    await runtime.start_new("devices_run", ids, RUN_ID)
    for _ in range(30):
        await runtime.wait_idle(timeout=60)
        clock.advance(timedelta(milliseconds=25))
    await runtime.wait_for_status(RUN_ID, timeout=60)


SETTLED = "dashboard:summary-rendered"


async def settle(page: Any) -> None:
    """Wait for the list's counts before leaving it: they scan the whole store on the host, and
    a scan left running would slow down the next measurement."""
    if await page.evaluate("() => location.hash.startsWith('#/instances') || !location.hash"):
        await page.wait_for_function(MARKED, arg=SETTLED, timeout=60_000)


async def mark_after(browser: Any, url: str, mark: str, ready: str) -> float:
    """Open ``url`` in a fresh context; the page's ``mark`` (ms since navigation start)."""
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = await context.new_page()
        await page.goto(url)
        await page.wait_for_selector(ready, timeout=60_000)
        await page.wait_for_function(MARKED, arg=mark, timeout=60_000)
        value = await page.evaluate(
            f"performance.getEntriesByName({json.dumps(mark)}, 'mark')[0].startTime"
        )
        await settle(page)
        return float(value)
    finally:
        await context.close()


async def in_app(browser: Any, base: str, hash_: str, mark: str) -> float:
    """Milliseconds from an in-page navigation to ``hash_`` until the page's ``mark``: the
    dashboard already loaded, as when a user clicks from one view to another."""
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = await context.new_page()
        await page.goto(f"{base}/dashboard/#/functions")
        await page.wait_for_selector("#http-functions", timeout=60_000)
        await page.evaluate(
            "hash => { performance.clearMarks(); performance.mark('navigate');"
            " location.hash = hash; }",
            hash_,
        )
        await page.wait_for_function(MARKED, arg=mark, timeout=60_000)
        value = await page.evaluate(
            f"performance.getEntriesByName({json.dumps(mark)}, 'mark')[0].startTime"
            " - performance.getEntriesByName('navigate', 'mark')[0].startTime"
        )
        await settle(page)
        return float(value)
    finally:
        await context.close()


def _figure(samples: list[float]) -> dict[str, float]:
    return {
        "median_ms": round(statistics.median(samples), 1),
        "min_ms": round(min(samples), 1),
        "max_ms": round(max(samples), 1),
    }


async def measure(base: str, runs: int) -> dict[str, dict[str, float]]:
    from playwright.async_api import async_playwright

    dashboard = f"{base}/dashboard/"
    pages = {
        "list": (dashboard, "dashboard:list-rendered", "tr[data-id]"),
        "summary": (dashboard, "dashboard:summary-rendered", "#histogram .bar"),
        "timeline": (f"{dashboard}#/instance/{RUN_ID}", "dashboard:timeline-rendered", ".g-row"),
    }
    clicks = {
        "list (in app)": ("#/instances", "dashboard:list-rendered"),
        "timeline (in app)": (f"#/instance/{RUN_ID}", "dashboard:timeline-rendered"),
    }
    samples: dict[str, list[float]] = {name: [] for name in [*pages, *clicks]}
    with unpinned():
        driver = await async_playwright().start()
    try:
        browser = await launch(driver)
        for name, (url, mark, ready) in pages.items():
            await mark_after(browser, url, mark, ready)  # warm-up: the host's caches
            for _ in range(runs):
                samples[name].append(await mark_after(browser, url, mark, ready))
        for name, (hash_, mark) in clicks.items():
            await in_app(browser, base, hash_, mark)
            for _ in range(runs):
                samples[name].append(await in_app(browser, base, hash_, mark))
        await browser.close()
    finally:
        await driver.stop()
    return {name: _figure(values) for name, values in samples.items()}


async def screenshots(base: str, host: FunctionsHost, out: Path) -> list[Path]:
    """The docs' screenshots: the list, a devices run, the functions."""
    from playwright.async_api import async_playwright

    dashboard = f"{base}/dashboard/"
    shots = {
        "dashboard-instances.png": (dashboard, "#histogram .bar"),
        "dashboard-instance.png": (f"{dashboard}#/instance/{RUN_ID}", "#children li"),
        "dashboard-functions.png": (f"{dashboard}#/functions", "#http-functions"),
    }
    written: list[Path] = []
    out.mkdir(parents=True, exist_ok=True)
    with unpinned():
        driver = await async_playwright().start()
    try:
        browser = await launch(driver)
        page = await browser.new_page(viewport={"width": 1280, "height": 860})
        for name, (url, ready) in shots.items():
            await page.goto(url)
            await page.wait_for_selector(ready)
            await page.wait_for_timeout(300)
            await page.screenshot(path=str(out / name))
            written.append(out / name)
        await browser.close()
    finally:
        await driver.stop()
    return written


async def run(args: argparse.Namespace) -> int:
    if not CHROMIUM.exists():
        print(f"bench.dashboard: no browser at {CHROMIUM} (apt-get install chromium)")
        return 1
    loaded = load_app(APP_DIR)
    if args.screenshots:
        clock = ManualClock()
        host = FunctionsHost(loaded, HostOptions(clock=clock, in_process=True))
        try:
            base = await host.serve("127.0.0.1", 0)
            await fill_spread(host, clock)
            for path in await screenshots(base, host, Path(args.screenshots)):
                print(f"wrote {path}")
        finally:
            await host.close()
            loaded.unload()
        return 0
    with tempfile.TemporaryDirectory(prefix="dashboard-bench-") as folder:
        host = FunctionsHost(loaded, HostOptions(store=str(Path(folder) / "durable.db")))
        try:
            base = await host.serve("127.0.0.1", 0)
            print(f"filling the store: {args.instances} instances, a {args.devices}-device run")
            seconds = await fill(host, args.instances, args.devices)
            print(f"  filled in {seconds:.1f} s; measuring {args.runs} loads per page")
            figures = await measure(base, args.runs)
        finally:
            await host.close()
            loaded.unload()
    print()
    print(f"| page ({args.instances} instances, {args.devices}-device run) | median | min | max |")
    print("| --- | ---: | ---: | ---: |")
    labels = {
        "list": "page load -> instances list, first page drawn",
        "summary": "page load -> counts per status + histogram drawn",
        "timeline": f"page load -> devices run, timeline of {args.devices} children drawn",
        "list (in app)": "click -> instances list, first page drawn",
        "timeline (in app)": f"click -> devices run, timeline of {args.devices} children drawn",
    }
    for name, figure in figures.items():
        key = name.split(" ")[0]
        target = f" (target < {TARGETS[key]:.0f} ms)" if key in TARGETS else ""
        print(
            f"| {labels[name]}{target} | {figure['median_ms']:.0f} ms "
            f"| {figure['min_ms']:.0f} ms | {figure['max_ms']:.0f} ms |"
        )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.dashboard", description=__doc__)
    parser.add_argument("--instances", type=int, default=10_000)
    parser.add_argument("--devices", type=int, default=500)
    parser.add_argument("--runs", type=int, default=5, help="page loads per figure (median)")
    parser.add_argument("--screenshots", metavar="DIR", help="write the docs' screenshots")
    return asyncio.run(run(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
