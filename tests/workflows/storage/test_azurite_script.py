"""``scripts/azurite``: blob, queue and table on their ports, and a fresh local.settings.json
with a generated ack-link key (run in a scratch copy of the repository, on free ports)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from devtools.azurite import AZURITE_BIN, REPO_ROOT, azurite_installed

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not azurite_installed(), reason=f"{AZURITE_BIN} is missing: npm install"),
]


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


@pytest.fixture
def checkout(tmp_path: Path) -> Iterator[tuple[Path, dict[str, str]]]:
    """A scratch copy of what the script touches, and its environment (free ports)."""
    (tmp_path / "scripts").mkdir()
    shutil.copy2(REPO_ROOT / "scripts" / "azurite", tmp_path / "scripts" / "azurite")
    shutil.copy2(REPO_ROOT / "local.settings.json.example", tmp_path)
    (tmp_path / "node_modules").symlink_to(REPO_ROOT / "node_modules")
    blob, queue, table = free_ports(3)
    env = {
        **os.environ,
        "AZURITE_BLOB_PORT": str(blob),
        "AZURITE_QUEUE_PORT": str(queue),
        "AZURITE_TABLE_PORT": str(table),
    }
    try:
        yield tmp_path, env
    finally:
        subprocess.run([str(tmp_path / "scripts" / "azurite"), "stop"], env=env, check=False)


def script(root: Path, env: dict[str, str], command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(root / "scripts" / "azurite"), command],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_ensure_starts_blob_queue_and_table_and_generates_the_ack_key(
    checkout: tuple[Path, dict[str, str]],
) -> None:
    root, env = checkout
    first = script(root, env, "ensure")
    assert first.returncode == 0, first.stdout + first.stderr
    for service in ("blob", "queue", "table"):
        assert f"Azurite {service} started" in first.stdout
    assert "generated a random ACK_SIGNING_KEY into local.settings.json" in first.stdout
    values = json.loads((root / "local.settings.json").read_text())["Values"]
    key = values["ACK_SIGNING_KEY"]
    assert len(key) >= 32
    assert values["AzureWebJobsStorage"] == "UseDevelopmentStorage=true"
    assert key not in first.stdout  # the key itself is never printed

    status = script(root, env, "status")
    assert status.returncode == 0
    assert status.stdout.count("answers on http://127.0.0.1:") == 3

    # Again: the running services are reused, the key is kept.
    second = script(root, env, "ensure")
    assert second.returncode == 0
    assert second.stdout.count("is running (pid") == 3
    assert (
        json.loads((root / "local.settings.json").read_text())["Values"]["ACK_SIGNING_KEY"] == key
    )

    stopped = script(root, env, "stop")
    assert stopped.stdout.count("stopped") == 3
    assert script(root, env, "status").returncode == 1


def test_an_existing_settings_file_without_a_key_gets_one(
    checkout: tuple[Path, dict[str, str]],
) -> None:
    root, env = checkout
    (root / "local.settings.json").write_text(
        json.dumps({"IsEncrypted": False, "Values": {"ACK_TIMEOUT_SECONDS": "30"}})
    )
    result = script(root, env, "ensure")
    assert result.returncode == 0, result.stderr
    values = json.loads((root / "local.settings.json").read_text())["Values"]
    assert values["ACK_TIMEOUT_SECONDS"] == "30"
    assert len(values["ACK_SIGNING_KEY"]) >= 32
