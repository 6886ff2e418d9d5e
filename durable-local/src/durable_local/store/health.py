"""Whether the store can take work: storage failures are loud, and recoverable when they can be.

Two kinds of trouble, each logged once when it starts (and once when it ends):

* the file was deleted or replaced while the runtime had it open: SQLite would go on writing
  into the unlinked file, and everything written would vanish at the next start. Permanent:
  the runtime refuses work until it is restarted.
* a write failed (a full disk, a file or filesystem made read-only, an I/O error): the runtime
  refuses work while it lasts; a probe write at most every ``PROBE_SECONDS`` (or any write that
  succeeds) ends it.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from collections.abc import Callable

log = logging.getLogger("durable_local.store")

PROBE_SECONDS = 1.0


class StoreHealth:
    """Tracks one store file's trouble; ``problem()`` says why it cannot take work, or None."""

    def __init__(self, path: str | None) -> None:
        self.path = path
        self._identity = _identity(path) if path is not None else None
        self._gone: str | None = None
        self._failing: str | None = None
        self._next_probe = 0.0

    def failed(self, exc: sqlite3.Error) -> str | None:
        """A transaction failed: a storage failure (not a constraint or a programming error)
        makes the store refuse work until a write succeeds. Returns the reason, if so."""
        if isinstance(exc, sqlite3.IntegrityError | sqlite3.ProgrammingError):
            return None
        if self._failing is None:
            where = self.path or "in memory"
            self._failing = f"the store {where} cannot be written: {exc}"
            log.error("durable-local: %s; work is refused until it can", self._failing)
        self._next_probe = time.monotonic() + PROBE_SECONDS
        return self._failing

    def succeeded(self) -> None:
        # Small writes may fit a full disk's free pages: only a success a while after the last
        # failure ends the trouble (no flapping between refusing and taking work, in the log).
        if self._failing is not None and time.monotonic() >= self._next_probe:
            log.warning("durable-local: the store can be written again; work resumes")
            self._failing = None

    def problem(self, probe: Callable[[], None]) -> str | None:
        """Why the store cannot take work now, or None. ``probe`` is a write tried at most every
        PROBE_SECONDS while writes fail (it must not raise; it reports through failed() and
        succeeded())."""
        if self._gone is not None:
            return self._gone
        if self._identity is not None and _identity(self.path) != self._identity:
            self._gone = (
                f"the store file {self.path} was deleted or replaced while durable-local was "
                "running; work is refused: restart durable-local"
            )
            log.error("durable-local: %s", self._gone)
            return self._gone
        if self._failing is not None and time.monotonic() >= self._next_probe:
            probe()
        return self._failing


def _identity(path: str | None) -> tuple[int, int] | None:
    if path is None:
        return None
    try:
        stat = os.stat(path)
    except OSError:
        return (-1, -1)
    return (stat.st_dev, stat.st_ino)
