"""Orchestration versions: how the extension compares them and which ones a worker runs
(host.json ``defaultVersion``, ``versionMatchStrategy``, ``versionFailureStrategy``).

Comparison (the extension's documented rules): empty versions are equal and older than any
other; two versions that both parse as .NET ``System.Version`` (two to four numeric parts)
compare part by part, a missing part counting below zero; anything else compares as text,
ignoring case.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

_DOTNET_VERSION = re.compile(r"^\d+(\.\d+){1,3}$")


class VersionMatch(enum.StrEnum):
    """Which orchestration versions a worker runs (``versionMatchStrategy``)."""

    NONE = "None"
    STRICT = "Strict"
    CURRENT_OR_OLDER = "CurrentOrOlder"


class VersionFailure(enum.StrEnum):
    """What happens to an orchestration whose version the worker does not run."""

    REJECT = "Reject"  # left for a worker that runs it (it waits)
    FAIL = "Fail"  # the orchestration fails


@dataclass(frozen=True)
class Versioning:
    """The host's versioning settings (host.json ``extensions.durableTask``)."""

    default_version: str = ""
    match: VersionMatch = VersionMatch.CURRENT_OR_OLDER
    failure: VersionFailure = VersionFailure.REJECT

    def runs(self, version: str) -> bool:
        """Whether this worker runs an orchestration of ``version``."""
        return version_runs(version, self.default_version, self.match)


def _parts(version: str) -> tuple[int, int, int, int] | None:
    if not _DOTNET_VERSION.match(version):
        return None
    numbers = [int(part) for part in version.split(".")]
    padded = numbers + [-1] * (4 - len(numbers))
    return padded[0], padded[1], padded[2], padded[3]


def compare_versions(left: str | None, right: str | None) -> int:
    """Negative, zero or positive as ``left`` is older than, equal to or newer than ``right``."""
    a, b = left or "", right or ""
    if not a or not b:
        return (1 if a else 0) - (1 if b else 0)
    pa, pb = _parts(a), _parts(b)
    if pa is not None and pb is not None:
        return (pa > pb) - (pa < pb)
    la, lb = a.lower(), b.lower()
    return (la > lb) - (la < lb)


def version_runs(version: str, default_version: str, strategy: VersionMatch) -> bool:
    """Whether a worker with ``default_version`` runs an orchestration of ``version``."""
    if strategy == VersionMatch.NONE or not default_version:
        return True
    order = compare_versions(version, default_version)
    return order == 0 if strategy == VersionMatch.STRICT else order <= 0
