"""JSON messages over a private pipe, each framed by its 4-byte length.

Workers never use stdout for this, and the parent only ever parses JSON from them: tensors travel as files
(kernel_eval.worker.payload) that only a worker loads.
"""

from __future__ import annotations

import json
import os
import select
import struct
import time
from collections.abc import Callable
from typing import Any

_LENGTH = struct.Struct(">I")


class ChannelClosed(Exception):
    """The other end closed the pipe (the worker died, or the parent went away)."""


class ChannelTimeout(Exception):
    """No complete message arrived before the deadline."""


class ChannelAborted(Exception):
    """The caller's abort check returned True while waiting."""


def send(fd: int, message: dict[str, Any]) -> None:
    data = json.dumps(message).encode()
    _write_all(fd, _LENGTH.pack(len(data)) + data)


def recv(
    fd: int,
    deadline: float | None = None,
    should_abort: Callable[[], bool] | None = None,
) -> dict[str, Any]:
    """Read one message. Blocks until it is complete, the deadline passes, or should_abort() is True."""
    reader = _Reader(fd, deadline, should_abort)
    (size,) = _LENGTH.unpack(reader.read(_LENGTH.size))
    message: dict[str, Any] = json.loads(reader.read(size))
    return message


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
