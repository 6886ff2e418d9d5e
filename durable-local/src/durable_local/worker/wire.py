"""The wire between the host and the worker process.

Messages, pickled, each framed by its length (8 bytes, big-endian) over a socket pair. Activity
calls and outcomes cross as plain tuples: a named tuple pickles ten times slower.
  host -> worker: ("orch", request_id, function_name, context_json)
                  ("acts", [(key, name, input_json), ...])
                  ("drop", [key, ...])  (cancelled: skip them if they have not started)
                  ("http", call_id, function_name, HttpRequestData, binding, invocation_id)
                  ("stop",)
  worker -> host: ("ready", pid) | ("fatal", message)
                  ("batch", [("orch", request_id, OrchestratorResult)
                             | ("act", (key, result_json, failure))
                             | ("http", call_id, ("ok", HttpResult) | ("err", text, trace))])
"""

from __future__ import annotations

import pickle
import select
import socket
import struct
import threading
from typing import Any

_HEADER = struct.Struct("!Q")


def frame(message: object) -> bytes:
    payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return _HEADER.pack(len(payload)) + payload


class Channel:
    """Framed, pickled messages over a blocking socket; ``send`` may be called from any thread."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._lock = threading.Lock()

    def send(self, message: object) -> None:
        data = frame(message)
        with self._lock:
            self.sock.sendall(data)

    def recv(self) -> Any:
        """The next message; EOFError when the other side has closed its end."""
        (size,) = _HEADER.unpack(self._exactly(_HEADER.size))
        return pickle.loads(self._exactly(size))

    def _exactly(self, size: int) -> bytes:
        buffer = bytearray(size)
        view = memoryview(buffer)
        got = 0
        while got < size:
            n = self.sock.recv_into(view[got:])
            if n == 0:
                raise EOFError("the other side closed the channel")
            got += n
        return bytes(buffer)

    def poll(self, timeout: float) -> bool:
        readable, _, _ = select.select([self.sock], [], [], timeout)
        return bool(readable)

    def close(self) -> None:
        self.sock.close()


class FrameBuffer:
    """Reassembles messages from bytes read without blocking (the host reads on its loop)."""

    def __init__(self) -> None:
        self._data = bytearray()

    def feed(self, data: bytes | memoryview) -> list[Any]:
        self._data += data
        messages = []
        start = 0
        buffered = len(self._data)
        with memoryview(self._data) as view:
            while buffered - start >= _HEADER.size:
                (size,) = _HEADER.unpack_from(view, start)
                end = start + _HEADER.size + size
                if end > buffered:
                    break
                messages.append(pickle.loads(view[start + _HEADER.size : end]))
                start = end
        if start:
            del self._data[:start]
        return messages
