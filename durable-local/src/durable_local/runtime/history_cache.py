"""The history cache: each instance's stored history (texts and parsed events), kept between
its episodes so an episode loads only what was appended since (least recently used dropped)."""

from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import dataclass

from durable_local.engine.events import Event
from durable_local.model import InstanceRecord
from durable_local.store.base import Store

HISTORY_CACHE_SIZE = 2048


@dataclass
class CachedHistory:
    """One execution's history as stored (``texts``) and parsed (``events``)."""

    execution_id: str
    texts: list[str]
    events: list[Event]


class HistoryCache:
    """Histories of up to ``size`` instances, brought up to date from the store on use."""

    def __init__(self, store: Store, size: int = HISTORY_CACHE_SIZE) -> None:
        self._store = store
        self._size = size
        self._entries: OrderedDict[str, CachedHistory] = OrderedDict()

    def get(self, record: InstanceRecord) -> CachedHistory:
        """The instance's current history (loading what the cache lacks)."""
        cached = self._entries.get(record.instance_id)
        if cached is None or cached.execution_id != record.execution_id:
            cached = CachedHistory(record.execution_id, [], [])
        if len(cached.texts) > record.history_len:  # rewritten (rewind): start over
            cached = CachedHistory(record.execution_id, [], [])
        if len(cached.texts) < record.history_len:
            more = self._store.load_history(record.instance_id, len(cached.texts))
            cached.texts.extend(more)
            cached.events.extend(json.loads(text) for text in more)
        self._entries[record.instance_id] = cached
        self._entries.move_to_end(record.instance_id)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)
        return cached

    def drop(self, instance_id: str) -> None:
        self._entries.pop(instance_id, None)
