"""The batching policy: when an instance's next episode waits for more of its own completions.

While an instance still waits for its own activities or children, its next episode is held back
for up to HOLD_FACTOR times its expected replay (its last one, scaled by the history's growth
since; never more than MAX_HOLD seconds), so a fan-in is replayed a few times instead of once
per trickle of completions. This only changes how messages are batched (spec §7.9), never what
an episode does with them. Times are the event loop's monotonic seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

HOLD_FACTOR = 2.0
MAX_HOLD = 1.0


@dataclass(slots=True)
class InstanceBatch:
    """What the policy knows of one instance between its episodes."""

    #: Activities and children it scheduled whose completion this runtime has not queued yet
    #: (None until one of its episodes has scheduled any).
    outstanding: int | None = None
    #: When the first completion (or streamed event) its next episode will see arrived.
    ready_since: float | None = None
    #: It was sent events while its episode ran (held like a fan-in, in-process only).
    streaming: bool = False
    #: Its last replay's duration, and the history length that replay saw and then committed:
    #: an episode that scheduled a large fan-out replayed a short history, and the next
    #: replay will cost that much more.
    last_replay: float = 0.0
    replayed_len: int = 0
    committed_len: int = 0

    def next_replay(self) -> float:
        """The expected cost of the next replay (replay time is linear in history length)."""
        grown = self.committed_len / self.replayed_len if self.replayed_len else 1.0
        return self.last_replay * max(1.0, grown)


class BatchingPolicy:
    """Per-instance batching state, in one object per instance, and the holds it implies."""

    def __init__(self, hold_streams: bool) -> None:
        #: Events for a running instance are held like a fan-in's completions (only while user
        #: code shares the host's process: a worker process replays on a core of its own).
        self.hold_streams = hold_streams
        self._instances: dict[str, InstanceBatch] = {}
        # Those with a ``ready_since``: the only ones a hold can apply to (a devices run keeps
        # thousands of instances, few of them waiting at any moment).
        self._ready: dict[str, InstanceBatch] = {}
        self._held: dict[str, float] = {}  # the holds of the last ``holds`` call

    def _of(self, instance_id: str) -> InstanceBatch:
        batch = self._instances.get(instance_id)
        if batch is None:
            batch = self._instances[instance_id] = InstanceBatch()
        return batch

    def is_held(self, instance_id: str) -> bool:
        """Held back at the last ``holds`` call."""
        return instance_id in self._held

    def holds(self, now: float) -> tuple[dict[str, float], bool]:
        """The instances held back now, with their deadlines, and whether one that was held at
        the previous call no longer is (so a claim may find it)."""
        held = {}
        for instance_id, batch in self._ready.items():
            assert batch.ready_since is not None
            if not batch.outstanding and not batch.streaming:
                continue
            hold = min(MAX_HOLD, HOLD_FACTOR * batch.next_replay())
            if batch.ready_since + hold > now:
                held[instance_id] = batch.ready_since + hold
        released = not self._held.keys() <= held.keys()
        self._held = held
        return held, released

    def claimed(self, instance_id: str) -> None:
        """Its episode starts: what it was waiting for is being applied."""
        batch = self._ready.pop(instance_id, None)
        if batch is not None:
            batch.ready_since = None
            batch.streaming = False

    def event_raised(self, instance_id: str, now: float) -> None:
        """A client queued an event for an instance whose episode is running."""
        if self.hold_streams:
            batch = self._of(instance_id)
            batch.streaming = True
            self._ready_at(instance_id, batch, now)

    def replayed(self, instance_id: str, seconds: float, history_len: int) -> None:
        batch = self._of(instance_id)
        batch.last_replay = seconds
        batch.replayed_len = history_len

    def committed(
        self,
        instance_id: str,
        history_len: int,
        started: int,
        ended: bool,
    ) -> None:
        """An episode committed: ``started`` new activities and children, or the execution
        ``ended`` (finished or continued as new) and its state is dropped."""
        if ended:
            self._instances.pop(instance_id, None)
            self._ready.pop(instance_id, None)
            return
        batch = self._of(instance_id)
        batch.committed_len = history_len
        if started:
            batch.outstanding = (batch.outstanding or 0) + started

    def completed(self, instance_id: str, now: float, count: int = 1) -> None:
        """``count`` completions for ``instance_id`` were queued by this runtime."""
        batch = self._instances.get(instance_id)
        if batch is not None and batch.outstanding is not None:
            batch.outstanding = max(0, batch.outstanding - count)
            self._ready_at(instance_id, batch, now)

    def _ready_at(self, instance_id: str, batch: InstanceBatch, now: float) -> None:
        if batch.ready_since is None:
            batch.ready_since = now
            self._ready[instance_id] = batch
