"""Run ``durable-local start`` as a child process: free port, own store, logs to a file.

Used by the demo and by the end-to-end tests. The process gets ``--port 0`` (the OS picks a
free port, so there is no race between choosing a port and binding it) and the address is read
from the "Host started on ..." line the CLI prints. Its stdout and stderr go to one log file,
appended across restarts, so a test can read what the app logged (``LocalHost.log_text``).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO

REPO_ROOT = Path(__file__).resolve().parent.parent
_STARTED = re.compile(r"Host started on (http://\S+)")


class HostError(RuntimeError):
    """The runtime did not start (the message carries the end of its log)."""


class LocalHost:
    """One ``durable-local`` process at a time over one store; restartable after a kill."""

    def __init__(
        self,
        store: str | Path,
        log_path: str | Path,
        *,
        app_dir: str | Path = REPO_ROOT,
        settings: Mapping[str, str] | None = None,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        self.store = str(store)
        self.log_path = Path(log_path)
        self.app_dir = Path(app_dir)
        self.settings = dict(settings or {})
        self.extra_args = extra_args
        self.base_url = ""
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self._log_file: IO[bytes] | None = None

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self, timeout: float = 60.0) -> str:
        """Start the process and wait until it serves; returns its base URL."""
        if self.process is not None and self.process.poll() is None:
            raise HostError("the runtime is already running")
        env = dict(os.environ)
        env.update(self.settings)
        env["PYTHONUNBUFFERED"] = "1"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        self._log_file = open(self.log_path, "ab")  # noqa: SIM115 - closed in _reap
        command = [
            sys.executable,
            "-m",
            "durable_local",
            "start",
            "--app-dir",
            str(self.app_dir),
            "--port",
            "0",
            "--store",
            self.store,
            *self.extra_args,
        ]
        self.process = subprocess.Popen(
            command,
            cwd=self.app_dir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            # Its own process group: a Ctrl-C in the terminal reaches us, and we decide.
            start_new_session=True,
        )
        self.starts += 1
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = _STARTED.search(self.log_text(offset))
            if found:
                self.base_url = found.group(1).rstrip("/")
                return self.base_url
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        tail = self.log_text(offset)[-3000:]
        self.kill()
        raise HostError(f"durable-local did not start within {timeout} s:\n{tail}")

    def stop(self, timeout: float = 20.0) -> int | None:
        """SIGTERM (a clean shutdown), then SIGKILL if it does not exit in time."""
        process = self.process
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        self._reap()
        return process.returncode

    def kill(self) -> None:
        """SIGKILL: the crash the store must survive."""
        process = self.process
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            process.wait(10)
        self._reap()

    def pause(self) -> None:
        """SIGSTOP: freeze the process exactly where it is (its store can then be inspected)."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGSTOP)

    def cont(self) -> None:
        """SIGCONT: let a paused process run on."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)

    def _reap(self) -> None:
        if self._log_file is not None:
            with contextlib.suppress(OSError):
                self._log_file.close()
            self._log_file = None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    # -- logs ----------------------------------------------------------------------------------
    def log_text(self, offset: int = 0) -> str:
        try:
            with open(self.log_path, "rb") as handle:
                handle.seek(offset)
                return handle.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def __enter__(self) -> LocalHost:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
