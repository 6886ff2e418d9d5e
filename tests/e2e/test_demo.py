"""The one-command demo runs to completion, exits 0, and leaves no secret in any log record."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from demo.run_demo import ACK_LINKS_FILE
from devtools.host_process import REPO_ROOT

from .conftest import REMOTE

#: The shape of an ack token (base64url payload, a dot, a 43-character base64url HMAC).
TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{20,}\.[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])")


@pytest.mark.slow
def test_demo_runs_exits_zero_and_logs_no_sas_or_ack_token() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "demo.run_demo", "--keep"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=150,
    )
    kept = re.search(r"Keeping the store and logs in (\S+)", result.stdout)
    assert kept is not None, result.stdout[-2000:] + result.stderr[-2000:]
    workdir = Path(kept.group(1))
    try:
        assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
        out = result.stdout
        assert "Demo OK" in out
        assert '"customerId": "cust-1001"' in out
        assert '"skuCount": 2' in out
        assert "device-007   rejected" in out
        assert "device-013   timed_out" in out
        assert "succeeded (23)" in out
        assert "25 packages downloaded through their SAS URL, digest checked, acked" in out

        links = (workdir / ACK_LINKS_FILE).read_text().split()
        tokens = [link.rsplit("/", 1)[1] for link in links]
        assert len(tokens) == 26  # CRM, warehouse and 24 devices (23 acks, 1 rejection)
        assert all(TOKEN_SHAPE.fullmatch(token) for token in tokens)
        # Every log record of the run: the host's and the worker's (the app's records, the
        # runtime's, the SDKs'), and what the demo printed.
        texts = {"the demo's output": out + result.stderr}
        if REMOTE is None:
            texts["durable-local's log"] = (workdir / "durable-local.log").read_text()
            log = texts["durable-local's log"]
            assert "workflows.acks" in log  # the acks were logged
            # Quiet: no azure-core request/response blocks, no serializer advisory.
            assert "http_logging_policy" not in log
            assert "df_loads was called without expected_type" not in log
        for name, text in texts.items():
            assert "sig=" not in text, f"a SAS signature in {name}"
            leaked = [token for token in tokens if token in text]
            assert not leaked, f"{len(leaked)} ack tokens in {name}"
            assert not TOKEN_SHAPE.search(text), f"something shaped like an ack token in {name}"
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
