"""Paths and the published figures the benchmarks compare against."""

from __future__ import annotations

import os
from pathlib import Path

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
