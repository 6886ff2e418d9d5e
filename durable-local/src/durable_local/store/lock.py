"""One runtime per store: an exclusive lock on ``<store>.lock``, beside the SQLite file.

A runtime releases every lease at start (the leases of a crashed predecessor), so two runtimes
on one store would each take the other's in-flight work and run it twice. The lock is taken
before anything touches the store and held for as long as the process serves it; the operating
system drops it when the process ends, however it ends (a SIGKILL leaves no stale lock). The
file holds the owner's pid, so that a second start can name it. ``:memory:`` needs no lock.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

from durable_local.model.errors import StoreUnavailable


class StoreInUse(Exception):
    """Another process holds the store's lock (the message names the store and its pid)."""


class StoreLock:
    """The lock on one store file (``release`` it, or end the process)."""

    def __init__(self, store: str | os.PathLike[str]) -> None:
        self.store = Path(store)
        self.path = self.store.with_name(self.store.name + ".lock")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StoreUnavailable(f"cannot lock the store {self.store}: {exc}") from None
        try:
            _lock(fd)
        except OSError:
            owner = _read_pid(fd)
            os.close(fd)
            who = f"pid {owner}" if owner else "a process that is starting"
            raise StoreInUse(
                f"the store {self.store} is in use by another durable-local ({who}); stop it, "
                "or start this one with another --store"
            ) from None
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd: int | None = fd

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            os.close(fd)  # closing the descriptor drops the lock


def _lock(fd: int) -> None:
    if sys.platform == "win32":
        import msvcrt

        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
    else:
        import fcntl

        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)


def _read_pid(fd: int) -> int | None:
    with contextlib.suppress(OSError, ValueError):
        os.lseek(fd, 0, os.SEEK_SET)
        return int(os.read(fd, 32).decode().strip())
    return None
