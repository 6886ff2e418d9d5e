"""The running board: which calls the worker process is executing, readable after it died.

A crash (``os._exit``, a segfault, the out-of-memory killer) leaves the host no message to read,
so the worker keeps, in memory shared with the host, one slot per thread that runs user code:
the key of the activity (or the request id of the episode) it is running, 0 when idle, and when
it started (``time.monotonic_ns``: one clock for every process of the machine). The host reads
the slots once the process is gone, and so charges the crash to what was running in it, not to
what only waited in its queue; and while it lives, to find what overran functionTimeout.
Writing a slot is two 8-byte stores: no message, no lock.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import struct
import tempfile
import threading
import time
from dataclasses import dataclass

_SLOT = struct.Struct("=qq")  # key, started (monotonic ns)


@dataclass(frozen=True)
class Running:
    """What the board says: the activity keys and episode requests running, with the
    ``time.monotonic_ns()`` at which each started."""

    activities: dict[int, int]
    episodes: dict[int, int]


class RunningBoard:
    """``activities`` slots for the activity threads, then ``episodes`` for the episode threads,
    over a shared file descriptor (``fd``; the child maps the same one)."""

    def __init__(self, activities: int, episodes: int, fd: int | None = None) -> None:
        self.activities = activities
        self.episodes = episodes
        size = max(1, activities + episodes) * _SLOT.size
        self.owner = fd is None
        if fd is None:
            fd = _anonymous_file()
            os.ftruncate(fd, size)
        self.fd = fd
        self._map = mmap.mmap(fd, size)
        self._free: list[int] = list(range(activities, activities + episodes))
        self._lock = threading.Lock()

    # -- the worker's side ---------------------------------------------------------------------
    def mark(self, slot: int, key: int) -> None:
        _SLOT.pack_into(self._map, slot * _SLOT.size, key, time.monotonic_ns() if key else 0)

    def take_episode_slot(self) -> int:
        """A free episode slot (there are as many as episode threads)."""
        with self._lock:
            return self._free.pop()

    def give_episode_slot(self, slot: int) -> None:
        self.mark(slot, 0)
        with self._lock:
            self._free.append(slot)

    # -- the host's side -----------------------------------------------------------------------
    def read(self) -> Running:
        values = [
            _SLOT.unpack_from(self._map, slot * _SLOT.size)
            for slot in range(self.activities + self.episodes)
        ]
        return Running(
            activities={key: started for key, started in values[: self.activities] if key},
            episodes={key: started for key, started in values[self.activities :] if key},
        )

    def close(self) -> None:
        with contextlib.suppress(BufferError, ValueError):
            self._map.close()
        if self.owner:
            with contextlib.suppress(OSError):
                os.close(self.fd)


def _anonymous_file() -> int:
    """A file only this process (and the children it passes it to) can reach."""
    memfd_create = getattr(os, "memfd_create", None)
    if memfd_create is not None:
        with contextlib.suppress(OSError):
            fd: int = memfd_create("durable-local-board", 0)  # no CLOEXEC: passed by pass_fds
            return fd
    with tempfile.TemporaryFile() as handle:
        return os.dup(handle.fileno())
