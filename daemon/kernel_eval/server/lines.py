"""The framing both ends of the server's socket use: one JSON object a line. Standard library only, so the thin
client (server/thin_client.py) frames its messages with it too; server/wire.py types what the lines carry."""

from __future__ import annotations

import json
import select
import socket
import threading
from typing import Any

MAX_FRAME = 256 * 1024 * 1024
"""A line longer than this is a protocol error (a result with all its captured output stays far below)."""


class ProtocolError(Exception):
    """The other side sent something that is not a message of this protocol."""


class Closed(Exception):
    """The other side closed the connection."""


class Lines:
    """JSON objects, one a line, over a connected stream socket. send() may be called from any thread; next() from
    one."""

    def __init__(self, connection: socket.socket) -> None:
        self.connection = connection
        self._sending = threading.Lock()
        self._buffer = b""

    def send(self, data: dict[str, Any]) -> None:
        frame = json.dumps(data).encode() + b"\n"
        with self._sending:
            self.connection.sendall(frame)

    def next(self, timeout_s: float | None = None) -> dict[str, Any] | None:
        """The next object, or None when none came within `timeout_s` (None: wait for one)."""
        line = self.next_line(timeout_s)
        if line is None:
            return None
        try:
            data = json.loads(line)
        except ValueError as exc:
            raise ProtocolError(f"not JSON: {line[:200]!r} ({exc})") from exc
        if not isinstance(data, dict):
            raise ProtocolError(f"not a JSON object: {line[:200]!r}")
        return data

    def next_line(self, timeout_s: float | None = None) -> bytes | None:
        while b"\n" not in self._buffer:
            readable, _, _ = select.select([self.connection], [], [], timeout_s)
            if not readable:
                return None
            chunk = self.connection.recv(1 << 20)
            if not chunk:
                raise Closed
            self._buffer += chunk
            if len(self._buffer) > MAX_FRAME:
                raise ProtocolError("a message longer than the protocol allows")
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line
