"""Failed commits: the instance is retried after a short, capped backoff, and logged once.

An episode whose commit fails (a full disk, an unwritable store) has changed nothing: its lease
is released so that the instance is claimed again, but not before its backoff (doubling from
FIRST_DELAY up to MAX_DELAY) has run out, so that a store that keeps failing is not hammered.
When the release itself fails (the store still cannot be written), the work item is kept and
released again on the pump's next turns. The first failure of an instance is logged with its
traceback, the next ones are not, and its recovery is logged once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from durable_local.store.base import OrchestrationWorkItem, Store

log = logging.getLogger("durable_local.dispatcher")

FIRST_DELAY = 0.1
MAX_DELAY = 5.0


@dataclass
class _Backoff:
    until: float
    delay: float


@dataclass
class EpisodeRetries:
    """Instances whose last episode failed to commit: their backoff, and unreleased leases."""

    _backoff: dict[str, _Backoff] = field(default_factory=dict)
    _unreleased: dict[str, OrchestrationWorkItem] = field(default_factory=dict)

    def failed(self, item: OrchestrationWorkItem, store: Store, now: float) -> None:
        """The episode of ``item`` raised (the caller logs it when ``is_first``)."""
        instance_id = item.instance.instance_id
        previous = self._backoff.get(instance_id)
        delay = FIRST_DELAY if previous is None else min(previous.delay * 2, MAX_DELAY)
        self._backoff[instance_id] = _Backoff(now + delay, delay)
        try:
            store.release_orchestration(item)
        except Exception:
            self._unreleased[instance_id] = item

    def is_first(self, instance_id: str) -> bool:
        return instance_id not in self._backoff

    def succeeded(self, instance_id: str) -> None:
        if self._backoff.pop(instance_id, None) is not None:
            log.warning("durable-local: instance '%s' committed again after failures", instance_id)

    def release_pending(self, store: Store) -> None:
        """Release the leases a failing store kept (before claiming anything)."""
        for instance_id, item in list(self._unreleased.items()):
            try:
                store.release_orchestration(item)
            except Exception:
                return  # still failing: the next turn tries again
            del self._unreleased[instance_id]

    def waiting(self, now: float) -> tuple[set[str], float | None]:
        """The instances not to claim yet, and when the first of them may be claimed."""
        waiting = {i for i, b in self._backoff.items() if b.until > now}
        due = min((b.until for b in self._backoff.values() if b.until > now), default=None)
        if self._unreleased:
            waiting.update(self._unreleased)
            due = min(due or now + MAX_DELAY, now + FIRST_DELAY * 10)  # try the release again
        return waiting, due

    def forget(self, instance_id: str) -> None:
        self._backoff.pop(instance_id, None)
        self._unreleased.pop(instance_id, None)
