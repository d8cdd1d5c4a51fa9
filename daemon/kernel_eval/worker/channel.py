"""Framed messages over a private pipe: a JSON header plus an optional binary blob.

Frame: 4-byte header length, UTF-8 JSON header, 8-byte blob length, blob. Workers never use stdout for this,
and the parent never unpickles anything a worker sends: tensors travel as opaque blobs that only the judge
loads (with torch.load(weights_only=True)).
"""

from __future__ import annotations

import json
import os
import select
import struct
import time
from collections.abc import Callable
from typing import Any

_HEADER = struct.Struct(">I")
_BLOB = struct.Struct(">Q")


class ChannelClosed(Exception):
    """The other end closed the pipe (the worker died, or the parent went away)."""


class ChannelTimeout(Exception):
    """No complete message arrived before the deadline."""


class ChannelAborted(Exception):
    """The caller's abort check returned True while waiting."""


def send(fd: int, header: dict[str, Any], blob: bytes = b"") -> None:
    data = json.dumps(header).encode()
    _write_all(fd, _HEADER.pack(len(data)) + data + _BLOB.pack(len(blob)))
    if blob:
        _write_all(fd, blob)


def recv(
    fd: int,
    deadline: float | None = None,
    should_abort: Callable[[], bool] | None = None,
) -> tuple[dict[str, Any], bytes]:
    """Read one message; blocks until it is complete, the deadline passes, or should_abort() is True."""
    reader = _Reader(fd, deadline, should_abort)
    (size,) = _HEADER.unpack(reader.read(_HEADER.size))
    header = json.loads(reader.read(size))
    (blob_size,) = _BLOB.unpack(reader.read(_BLOB.size))
    return header, reader.read(blob_size) if blob_size else b""


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


class _Reader:
    def __init__(self, fd: int, deadline: float | None, should_abort: Callable[[], bool] | None) -> None:
        self.fd, self.deadline, self.should_abort = fd, deadline, should_abort

    def read(self, n: int) -> bytes:
        chunks: list[bytes] = []
        while n > 0:
            self._wait_readable()
            chunk = os.read(self.fd, min(n, 1 << 24))
            if not chunk:
                raise ChannelClosed
            chunks.append(chunk)
            n -= len(chunk)
        return b"".join(chunks)

    def _wait_readable(self) -> None:
        while True:
            timeout = 0.05
            if self.deadline is not None:
                remaining = self.deadline - time.monotonic()
                if remaining <= 0:
                    raise ChannelTimeout
                timeout = min(timeout, remaining)
            ready, _, _ = select.select([self.fd], [], [], timeout)
            if ready:
                return
            if self.should_abort is not None and self.should_abort():
                raise ChannelAborted
