"""Run Azurite (blob and queue services) as a child process: own folder, loopback, free ports.

Used by the storage tests, the end-to-end tests and the demo. The emulator is the one pinned in
package.json (``npm install`` puts it at ``node_modules/.bin/azurite``). It gets ``--blobPort 0
--queuePort 0 --tablePort 0`` (the OS picks free ports, so parallel runs never collide) and the
addresses are read from the "... service is successfully listening at ..." lines Azurite
prints. ``connection_string`` (both endpoints) is what the app's ``AzureWebJobsStorage`` setting
should hold: packages go to the blob service, consumer notifications to the queue service.

For a long-running emulator on the default ports (10000 blob, 10001 queue) during local
development, use ``scripts/azurite ensure`` instead.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import time
from pathlib import Path
from typing import IO

REPO_ROOT = Path(__file__).resolve().parent.parent
AZURITE_BIN = REPO_ROOT / "node_modules" / ".bin" / "azurite"

DEV_ACCOUNT_NAME = "devstoreaccount1"
DEV_ACCOUNT_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
_LISTENING = re.compile(r"Azurite (Blob|Queue) service is successfully listening at (http://\S+)")


class AzuriteError(RuntimeError):
    """Azurite is missing or did not start (the message carries the end of its log)."""


def azurite_installed() -> bool:
    return AZURITE_BIN.exists()


def connection_string_for(blob_endpoint: str, queue_endpoint: str = "") -> str:
    """An account-key connection string for the development account at these endpoints."""
    queue = f"QueueEndpoint={queue_endpoint.rstrip('/')};" if queue_endpoint else ""
    return (
        f"DefaultEndpointsProtocol=http;AccountName={DEV_ACCOUNT_NAME};"
        f"AccountKey={DEV_ACCOUNT_KEY};BlobEndpoint={blob_endpoint.rstrip('/')};{queue}"
    )


class Azurite:
    """One ``azurite`` process on ``127.0.0.1``; ``start`` returns the blob endpoint and sets
    ``queue_endpoint`` too (its table service runs on a free port, unused)."""

    def __init__(self, location: str | Path) -> None:
        self.location = Path(location)
        self.log_path = self.location / "azurite.log"
        self.blob_endpoint = ""
        self.queue_endpoint = ""
        self.process: subprocess.Popen[bytes] | None = None
        self._log_file: IO[bytes] | None = None

    @property
    def connection_string(self) -> str:
        if not self.blob_endpoint:
            raise AzuriteError("Azurite is not running")
        return connection_string_for(self.blob_endpoint, self.queue_endpoint)

    def start(self, timeout: float = 30.0) -> str:
        if not azurite_installed():
            raise AzuriteError(f"{AZURITE_BIN} is missing: run `npm install` in {REPO_ROOT}")
        if self.process is not None and self.process.poll() is None:
            raise AzuriteError("Azurite is already running")
        self.location.mkdir(parents=True, exist_ok=True)
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        self._log_file = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [
                str(AZURITE_BIN),
                "--blobHost",
                "127.0.0.1",
                "--blobPort",
                "0",
                "--queueHost",
                "127.0.0.1",
                "--queuePort",
                "0",
                "--tableHost",
                "127.0.0.1",
                "--tablePort",
                "0",
                "--location",
                str(self.location),
                # The Python SDK may speak a newer API version than this Azurite knows.
                "--skipApiVersionCheck",
                "--loose",
                "--disableTelemetry",
            ],
            cwd=REPO_ROOT,
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            # Its own process group: stop() signals exactly this emulator.
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = dict(_LISTENING.findall(self._log_since(offset)))
            if "Blob" in found and "Queue" in found:
                self.blob_endpoint = f"{found['Blob'].rstrip('/')}/{DEV_ACCOUNT_NAME}"
                self.queue_endpoint = f"{found['Queue'].rstrip('/')}/{DEV_ACCOUNT_NAME}"
                return self.blob_endpoint
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        tail = self._log_since(offset)[-2000:]
        self.stop()
        raise AzuriteError(f"Azurite did not start within {timeout} s:\n{tail}")

    def _log_since(self, offset: int) -> str:
        with contextlib.suppress(OSError), open(self.log_path, "rb") as log:
            log.seek(offset)
            return log.read().decode("utf-8", "replace")
        return ""

    def stop(self, timeout: float = 10.0) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        self.blob_endpoint = ""
        self.queue_endpoint = ""

    def __enter__(self) -> Azurite:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
