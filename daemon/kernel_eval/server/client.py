"""The CLI's side of the server: connect to this user's server (start one, detached, when there is none), send one
request, relay its progress and return its result. Whatever goes wrong with the server, evaluate() returns None
and the CLI evaluates in its own process instead: a result is never lost to the server."""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

from kernel_eval.engine import child_setup
from kernel_eval.progress import ProgressCallback
from kernel_eval.request import EvalRequest
from kernel_eval.result import EvalResult
from kernel_eval.server import address, wire
from kernel_eval.server.thin_client import CANCEL_WAIT_S, HELLO_WAIT_S, POLL_S

START_WAIT_S = 30.0
"""How long a server started here may take to listen."""
STUCK_GRACE_S = 300.0
"""Past the build and run limits plus this, a server that has not answered is taken to be stuck."""
LOG_KEPT = 1 << 20
"""A server's log is appended to by the next one, and started afresh past this size."""
BOOT = "import sys; sys.path.insert(0, {root!r}); from kernel_eval.server.serve import main; sys.exit(main())"

Say = Callable[[str], None]


class Unavailable(Exception):
    """No server could be reached or started."""


def evaluate(
    request: EvalRequest, on_progress: ProgressCallback, cancel: threading.Event, say: Say
) -> EvalResult | None:
    """The server's result for `request` (its paths absolute), or None: then evaluate in-process (`say` was told
    why)."""
    try:
        where = address.address()
        channel = wire.Channel(connect_or_start(where))
    except (address.AddressProblem, Unavailable, OSError) as problem:
        say(f"kernel-eval server unavailable ({problem}): evaluating in this process")
        return None
    try:
        return converse(channel, where, request, on_progress, cancel, say)
    except (OSError, wire.Closed, wire.ProtocolError) as problem:
        if not cancel.is_set():
            say(f"kernel-eval server lost ({problem or type(problem).__name__}): evaluating in this process")
        return None
    finally:
        channel.close()


def converse(
    channel: wire.Channel,
    where: address.Address,
    request: EvalRequest,
    on_progress: ProgressCallback,
    cancel: threading.Event,
    say: Say,
) -> EvalResult | None:
    hello = channel.receive(HELLO_WAIT_S)
    if not isinstance(hello, wire.Hello) or hello.fingerprint != where.fingerprint:
        raise wire.ProtocolError(f"expected the server's hello, got {hello!r}")
    ident = uuid.uuid4().hex
    channel.send(wire.Evaluate(ident, request))
    say(f"evaluating on the kernel-eval server (pid {hello.pid}, {where.socket})")
    cancelled_at: float | None = None
    give_up_at = time.monotonic() + give_up_s(request)
    while True:
        if time.monotonic() > give_up_at:
            say("the kernel-eval server gave no result within the evaluation's own limits: evaluating here")
            return None
        if cancel.is_set() and cancelled_at is None:
            channel.send(wire.Cancel(ident))
            cancelled_at = time.monotonic()
        if cancelled_at is not None and time.monotonic() - cancelled_at > CANCEL_WAIT_S:
            return None
        message = channel.receive(POLL_S)
        if message is None:
            continue
        if isinstance(message, wire.Progress) and message.id == ident:
            on_progress(message.event)
        elif isinstance(message, wire.Done) and message.id == ident:
            return message.result
        elif isinstance(message, wire.Refused) and message.id == ident:
            say(f"the kernel-eval server refused: {message.reason}")
            return None
        else:
            raise wire.ProtocolError(f"unexpected {message!r}")


def give_up_s(request: EvalRequest) -> float:
    """How long a caller waits for the server's answer to `request` before it takes the server to be stuck."""
    return request.build_timeout_s + 2 * request.timeout_s + STUCK_GRACE_S


def connect(path: Path) -> socket.socket:
    """A connection to the server listening on `path`, which must run as this user."""
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        connection.connect(str(path))
        if address.peer_uid(connection) != os.getuid():
            raise Unavailable(f"{path} is served by another user")
    except BaseException:
        connection.close()
        raise
    return connection


def connect_or_start(where: address.Address) -> socket.socket:
    """A connection to this user's server, started first when none listens. A socket file whose server is gone
    is replaced; of two callers starting one at once, the second waits for the first's (a lock file)."""
    with contextlib.suppress(FileNotFoundError, ConnectionRefusedError):
        return connect(where.socket)
    with locked(where.lock):
        try:
            return connect(where.socket)
        except FileNotFoundError:
            pass
        except ConnectionRefusedError:
            where.socket.unlink(missing_ok=True)
        server = start(where)
        deadline = time.monotonic() + START_WAIT_S
        while True:
            with contextlib.suppress(FileNotFoundError, ConnectionRefusedError):
                return connect(where.socket)
            if server.poll() is not None:
                raise Unavailable(f"the server exited with status {server.returncode}; see {where.log}")
            if time.monotonic() > deadline:
                server.terminate()
                raise Unavailable(f"the server did not listen within {START_WAIT_S:.0f} s; see {where.log}")
            time.sleep(0.02)


def start(where: address.Address) -> subprocess.Popen[bytes]:
    """`kernel-eval serve` in a session of its own, its output into its log file (never the CLI's stdout), with
    this process's interpreter, code and environment."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND
    with contextlib.suppress(OSError):
        if where.log.stat().st_size > LOG_KEPT:
            flags |= os.O_TRUNC
    log = os.open(where.log, flags, 0o600)
    try:
        return subprocess.Popen(
            [sys.executable, "-c", BOOT.format(root=child_setup.PACKAGE_ROOT)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            cwd=where.folder,
            start_new_session=True,
        )
    finally:
        os.close(log)


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)
