"""The worker channel's framing: messages come back whole from any split of the stream."""

from __future__ import annotations

from durable_local.worker.wire import FrameBuffer, frame


def test_frames_are_reassembled_from_any_split_of_the_stream() -> None:
    messages = [("batch", [("act", (1, "2", None))]), ("ready", 42), ("orch", 7, "é" * 70_000)]
    stream = b"".join(frame(message) for message in messages)

    one_by_one = FrameBuffer()
    got = [message for i in range(len(stream)) for message in one_by_one.feed(stream[i : i + 1])]
    assert got == messages
    assert FrameBuffer().feed(stream) == messages  # several in one read
    halves = FrameBuffer()
    assert halves.feed(stream[:10]) == []  # a header and a piece: nothing yet
    assert halves.feed(stream[10:]) == messages
