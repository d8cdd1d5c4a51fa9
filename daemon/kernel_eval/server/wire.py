"""What the CLI and the server say to each other: typed messages, one JSON object a line (server/lines.py), each
tagged with its type and carrying the id of the request it belongs to.

    server → client  Hello (on connect), then Progress ..., then Done (or Refused)
    client → server  Evaluate, then Cancel (or the connection closed: the same)

A call the thin client forwards whole (server/thin_client.py, which writes and reads these as plain dicts):

    server → client  Hello, then Accepted and Printed (or Refused: the CLI then runs as usual)
    client → server  Forward, then Cancel (or the connection closed)
"""

from __future__ import annotations

import contextlib
import socket
from typing import Any

import attrs

from kernel_eval.progress import ProgressEvent
from kernel_eval.request import EvalRequest
from kernel_eval.result import EvalResult, from_data, to_data
from kernel_eval.server.lines import (
    Closed as Closed,  # what a Channel raises: the callers catch them from here
)
from kernel_eval.server.lines import Lines
from kernel_eval.server.lines import ProtocolError as ProtocolError


@attrs.define
class Hello:
    pid: int
    fingerprint: str


@attrs.define
class Evaluate:
    id: str
    request: EvalRequest


@attrs.define
class Cancel:
    id: str


@attrs.define
class Forward:
    """A CLI call as typed, in `cwd`: parsed, checked, evaluated and printed by the server as the CLI would.
    `env` holds what printing and the history read (thin_client.FORWARDED_ENV)."""

    id: str
    argv: list[str]
    cwd: str
    env: dict[str, str]
    stderr_is_terminal: bool


@attrs.define
class Accepted:
    """The forwarded call is the server's: past `give_up_s` without Printed, the caller may take it to be stuck."""

    id: str
    give_up_s: float


@attrs.define
class Printed:
    """What the CLI would have printed for a forwarded call, and its exit status."""

    id: str
    stdout: str
    stderr: str
    exit_code: int


@attrs.define
class Progress:
    id: str
    event: ProgressEvent


@attrs.define
class Done:
    id: str
    result: EvalResult


@attrs.define
class Refused:
    id: str
    reason: str


Message = Hello | Evaluate | Forward | Accepted | Printed | Cancel | Progress | Done | Refused
TYPES: dict[str, type[Any]] = {
    "hello": Hello,
    "evaluate": Evaluate,
    "forward": Forward,
    "accepted": Accepted,
    "printed": Printed,
    "cancel": Cancel,
    "progress": Progress,
    "done": Done,
    "refused": Refused,
}
TAGS = {cls: tag for tag, cls in TYPES.items()}


def encode(message: Message) -> dict[str, Any]:
    data = to_data(message)
    data["type"] = TAGS[type(message)]
    return data


def decode(data: dict[str, Any]) -> Message:
    try:
        cls = TYPES[data.pop("type")]
        message: Message = from_data(data, cls)
    except Exception as exc:  # an unknown type, or fields that do not fit: all the same to us
        raise ProtocolError(f"not a message: {str(data)[:200]} ({exc})") from exc
    return message


class Channel:
    """Messages over a connected stream socket. send() may be called from any thread; receive() from one."""

    def __init__(self, connection: socket.socket) -> None:
        self.connection = connection
        self._lines = Lines(connection)

    def send(self, message: Message) -> None:
        self._lines.send(encode(message))

    def receive(self, timeout_s: float | None = None) -> Message | None:
        """The next message, or None when none came within `timeout_s` (None: wait for one)."""
        data = self._lines.next(timeout_s)
        return None if data is None else decode(data)

    def close(self) -> None:
        """Close now, for both ends: a thread of ours blocked reading it wakes, and the other end sees the close
        (a plain close waits for such a thread, and the other end would wait with it)."""
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)
        self.connection.close()
