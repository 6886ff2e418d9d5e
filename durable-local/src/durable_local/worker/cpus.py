"""Where the two processes run: the host keeps one CPU, the worker process gets the others."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Collection, Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class CpuSplit:
    """The host keeps one CPU; the worker process gets the others."""

    host: int
    worker: frozenset[int]


def split_cpus() -> CpuSplit | None:
    """A split of the CPUs this process may use, or None (fewer than two, or not Linux).

    The host is one Python thread (its SQLite work included), so one CPU is all it can use.
    Left to the scheduler, the worker's threads are often woken on the host's CPU (they are
    woken by the host's writes), and the two wait for each other there while the other CPU is
    idle. The host keeps the CPU it is running on now, so that several runtimes started on one
    machine do not all pick the same one.
    """
    getaffinity = getattr(os, "sched_getaffinity", None)
    if getaffinity is None:
        return None
    allowed = set(getaffinity(0))
    if len(allowed) < 2:
        return None
    host = _current_cpu()
    if host is None or host not in allowed:
        host = min(allowed)
    return CpuSplit(host, frozenset(allowed - {host}))


def _current_cpu() -> int | None:
    try:
        with open("/proc/thread-self/stat") as stat:
            # Field 39 (processor); the fields after the command name, which is in parentheses.
            fields = stat.read().rpartition(")")[2].split()
        return int(fields[36])
    except (OSError, ValueError, IndexError):
        return None


@contextlib.contextmanager
def pinned_to(cpu: int) -> Iterator[None]:
    """Keep every thread of this process on ``cpu`` for the duration (threads started meanwhile
    included), then give them back the CPUs the calling thread had."""
    before = os.sched_getaffinity(0)
    _set_all_threads({cpu})
    try:
        yield
    finally:
        _set_all_threads(before)


def _set_all_threads(cpus: Collection[int]) -> None:
    for task in os.listdir("/proc/self/task"):
        with contextlib.suppress(OSError):  # a thread that has just ended
            os.sched_setaffinity(int(task), cpus)
