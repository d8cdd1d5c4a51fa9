"""The CLI's quick way to a warm server. A call whose output is plain text (stdout is no terminal, so there is
nothing live to draw) goes whole, as typed, to this user's running server: it parses, checks, evaluates and prints
the call as the CLI would, and sends back what to print and the exit status. This module uses the standard library
only, so such a call costs about a warm evaluation, not the import of the CLI (torch-free, but ~0.2 s).

Anything else returns None and the CLI runs as usual: no server running yet (the CLI starts one), a call the server
leaves to the CLI (a refusal, --verbose, a missing file: the CLI says it in its own words), a lost connection.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
import uuid
from types import FrameType
from typing import Any

from kernel_eval.server import address
from kernel_eval.server.lines import Closed, Lines, ProtocolError

NO_SERVER_ENV = "KERNEL_EVAL_NO_SERVER"
FORWARDED_ENV = (
    *("KERNEL_EVAL_HISTORY", "XDG_DATA_HOME", "HOME"),  # the history: on or off, and where
    *(
        "COLUMNS",
        "LINES",
        "NO_COLOR",
        "FORCE_COLOR",
        "TTY_COMPATIBLE",
        "TTY_INTERACTIVE",
        "TERM",
        "COLORTERM",
    ),
)
"""What the server reads from the caller's environment, not its own: whether and where the history is written, and
what rich reads to decide how text is printed."""
EXIT_CANCELLED = 130
HELLO_WAIT_S = 10.0
ACCEPT_WAIT_S = 30.0
CANCEL_WAIT_S = 15.0
"""How long a cancelled evaluation's result may take to come back before the caller stops waiting."""
POLL_S = 0.1


class Stop(Exception):
    """The server cannot finish this call: the CLI runs it instead."""


def run(argv: list[str]) -> int | None:
    """The exit status of `argv` run on this user's warm server, its output printed here; or None."""
    if not may_forward(argv):
        return None
    try:
        where = address.address()
        connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    except (address.AddressProblem, OSError):
        return None
    interrupted: list[int] = []
    handlers = _catch_signals(interrupted)
    try:
        connection.connect(str(where.socket))
        if address.peer_uid(connection) != os.getuid():
            return None
        return _converse(Lines(connection), where.fingerprint, argv, interrupted)
    except (OSError, ValueError, KeyError, TypeError, Closed, ProtocolError, Stop):
        if interrupted:  # no second evaluation after a Ctrl-C
            sys.stderr.write("interrupted: evaluation cancelled\n")
            return EXIT_CANCELLED
        return None
    finally:
        connection.close()
        for signum, handler in handlers.items():
            signal.signal(signum, handler)


def may_forward(argv: list[str]) -> bool:
    """Not --help, no terminal on stdout, and the server not switched off."""
    if not argv or any(arg == "-h" or arg.startswith("--h") for arg in argv):
        return False
    return not os.isatty(1) and not disabled_by_env()


def disabled_by_env() -> bool:
    """KERNEL_EVAL_NO_SERVER set: every call evaluates in the CLI's own process."""
    return os.environ.get(NO_SERVER_ENV, "") not in ("", "0")


def _converse(lines: Lines, fingerprint: str, argv: list[str], interrupted: list[int]) -> int:
    hello = lines.next(HELLO_WAIT_S) or {}
    if hello.get("type") != "hello" or hello.get("fingerprint") != fingerprint:
        raise Stop
    ident = uuid.uuid4().hex
    env = {name: os.environ[name] for name in FORWARDED_ENV if name in os.environ}
    lines.send(
        {"type": "forward", "id": ident, "argv": argv, "cwd": os.getcwd(), "env": env,
         "stderr_is_terminal": os.isatty(2)}
    )  # fmt: skip
    accepted = lines.next(ACCEPT_WAIT_S) or {}
    if accepted.get("type") != "accepted" or accepted.get("id") != ident:
        raise Stop  # refused: the CLI runs the call and says why
    give_up_at = time.monotonic() + float(str(accepted["give_up_s"]))
    cancelled_at: float | None = None
    while True:
        now = time.monotonic()
        if interrupted and cancelled_at is None:
            lines.send({"type": "cancel", "id": ident})
            cancelled_at = now
        if len(interrupted) > 1 or (cancelled_at is not None and now - cancelled_at > CANCEL_WAIT_S):
            raise Stop  # a second Ctrl-C, or a cancellation not answered: stop waiting
        if now > give_up_at:
            os.environ[NO_SERVER_ENV] = "1"  # stuck: the CLI evaluates in its own process, not there again
            raise Stop
        message = lines.next(POLL_S)
        if message is None:
            continue
        if message.get("type") != "printed" or message.get("id") != ident:
            raise Stop
        sys.stdout.write(str(message["stdout"]))
        sys.stdout.flush()
        sys.stderr.write(str(message["stderr"]))
        return int(str(message["exit_code"]))


def _catch_signals(interrupted: list[int]) -> dict[int, Any]:
    """Ctrl-C and SIGTERM cancel the call (a second one stops waiting); the handlers before, to put back."""

    def on_signal(signum: int, frame: FrameType | None) -> None:
        interrupted.append(signum)

    return {signum: signal.signal(signum, on_signal) for signum in (signal.SIGINT, signal.SIGTERM)}
