"""The one-command demo runs to completion and exits 0."""

from __future__ import annotations

import subprocess
import sys

import pytest

from demo.host_process import REPO_ROOT


@pytest.mark.slow
def test_demo_runs_and_exits_zero() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "demo.run_demo"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    out = result.stdout
    assert "Demo OK" in out
    assert '"customerId": "cust-1001"' in out
    assert '"skuCount": 2' in out
    assert "device-007   rejected" in out
    assert "device-013   timed_out" in out
    assert "succeeded (23)" in out
    assert "Stopping durable-local" in out
