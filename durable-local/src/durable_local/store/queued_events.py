"""The events a store queued, kept by their JSON text: the claim that reads a message back takes
the event instead of parsing the text again (a fan-in reads thousands)."""

from __future__ import annotations

from durable_local.engine.events import Event, event_json

# Queued events kept for their claim; more are parsed back from JSON.
QUEUED_EVENTS_KEPT = 16_384


class QueuedEvents:
    """A bounded map from queued text to event (cleared when full: messages never claimed
    here, such as those of purged instances, must not pile up)."""

    def __init__(self, size: int = QUEUED_EVENTS_KEPT) -> None:
        self._size = size
        self._events: dict[str, Event] = {}

    def encode(self, event: Event) -> str:
        """The event's queued text; the event is kept for the claim that reads it back."""
        text = event_json(event)
        if len(self._events) >= self._size:
            self._events.clear()
        self._events[text] = event
        return text

    def take(self, text: str) -> Event | None:
        """The event queued as ``text`` (once), or None when it is not kept."""
        return self._events.pop(text, None)

    def forget(self, text: str) -> None:
        self._events.pop(text, None)
