"""Orchestrator episodes and worker crashes: what the dispatcher does when the worker process dies
during an episode (``WorkerCrashed``), as the activity pipeline does for activities.

An episode that was running in the crash is charged; an instance charged ``crash_limit`` times,
the last of them conclusively (it ran alone, or on probation: one suspect, activity or
episode, runs at a time), fails with the reason. An episode that overran functionTimeout fails
at once with the host's message. Episodes that were only waiting are retried uncharged.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, KeysView

from durable_local.runtime.activities import Probation, timeout_message
from durable_local.worker.protocol import WorkerCrashed

log = logging.getLogger("durable_local.dispatcher")


class EpisodeCrashes:
    """Crash charges per instance, and the one charged instance on probation."""

    def __init__(self, crash_limit: int, probation: Probation) -> None:
        self.crash_limit = crash_limit
        self._counts: dict[str, int] = {}
        self.probation = probation

    def exclude(self, others: Collection[str]) -> Collection[str]:
        """What not to claim: ``others``, and the charged instances while a suspect runs."""
        if not self._counts or not self.probation.busy:
            return others
        charged: KeysView[str] = self._counts.keys()
        return charged | set(others)

    def claimed(self, instance_id: str) -> None:
        if instance_id in self._counts:
            self.probation.episode = instance_id

    def ended(self, instance_id: str) -> None:
        self.probation.end_episode(instance_id)

    def committed(self, instance_id: str) -> None:
        if self._counts:
            self._counts.pop(instance_id, None)

    def forget(self, instance_id: str) -> None:
        self._counts.pop(instance_id, None)

    def failure(self, instance_id: str, crash: WorkerCrashed, function_name: str) -> str | None:
        """The reason the instance fails for this crash, or None: retry the episode."""
        if crash.timeout is not None:  # overran functionTimeout: the worker was recycled
            reason = timeout_message(crash.timeout, function_name)
            log.error("durable-local: instance '%s': %s", instance_id, reason)
            return reason
        if not crash.charged:
            return None
        count = self._counts.get(instance_id, 0) + 1
        conclusive = crash.alone or self.probation.episode == instance_id
        if count < self.crash_limit or not conclusive:
            self._counts[instance_id] = count
            return None
        self._counts.pop(instance_id, None)
        reason = f"{crash.exit} while running orchestrator '{function_name}', {count} times"
        log.error("durable-local: instance '%s': %s; it fails", instance_id, reason)
        return reason
