"""`kernel-eval serve`: the warm server. It holds one WorkerPool per device, evaluates the requests of its own user
that reach its Unix socket (one at a time per device), streams their progress and result back, and stops once
idle, its socket removed and its workers stopped. It never writes to anyone's stdout: it logs to stderr (its log
file when the CLI started it)."""

from __future__ import annotations

import functools
import logging
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType

from kernel_eval import arguments
from kernel_eval.engine import spawn
from kernel_eval.engine.pool import WorkerPool
from kernel_eval.progress import ProgressEvent, ignore_progress
from kernel_eval.request import DEFAULT_DEVICE, EvalRequest
from kernel_eval.result import EvalResult
from kernel_eval.server import address, client, forwarded, wire

log = logging.getLogger("kernel_eval.server")

ACCEPT_POLL_S = 0.5
REQUEST_WAIT_S = 30.0
"""How long a connection may stay silent before its request comes."""
STOP_WAIT_S = 15.0
"""How long a stopping server waits for cancelled evaluations to end before it closes their pools."""


@dataclass
class ServeOptions:
    """Serve evaluations to this user's `kernel-eval` calls from warm workers, on a Unix socket."""

    idle_s: float = 600.0  # stop after this many seconds with no request running or arriving


SPARES = 1
"""Hot spares per device once its first evaluation is done (a new file then finds a process ready)."""


class Lane:
    """One device's warm pool and the lock that keeps it to one evaluation at a time. Its spare starts after the
    first result is sent: started with the first evaluation's workers, it would slow that first call down."""

    def __init__(self) -> None:
        self.pool = WorkerPool(spares=0)
        self.lock = threading.Lock()


class Server:
    def __init__(self, where: address.Address, idle_s: float) -> None:
        self.where, self.idle_s = where, idle_s
        self.stopping = threading.Event()
        self._lanes: dict[str, Lane] = {}
        self._state = threading.Lock()
        self._cancels: set[threading.Event] = set()
        self._handlers: set[threading.Thread] = set()
        self._last_activity = time.monotonic()
        self._listener: socket.socket | None = None
        self._inode = 0

    def bind(self) -> bool:
        """Listen on the socket; False when a live server already does. A stale socket file is replaced."""
        path = self.where.socket
        if path.exists() or path.is_symlink():
            probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                probe.connect(str(path))
                return False
            except ConnectionRefusedError:
                path.unlink(missing_ok=True)
            finally:
                probe.close()
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        umask = os.umask(0o177)
        try:
            listener.bind(str(path))
        finally:
            os.umask(umask)
        os.chmod(path, 0o600)
        listener.listen(16)
        listener.settimeout(ACCEPT_POLL_S)
        self._listener, self._inode = listener, os.stat(path).st_ino
        return True

    def serve(self) -> None:
        """Accept connections until stopped or idle for idle_s, then stop cleanly."""
        assert self._listener is not None
        log.info(
            "serving on %s (pid %d, idle stop after %.0f s)", self.where.socket, os.getpid(), self.idle_s
        )
        try:
            while not self.stopping.is_set():
                try:
                    connection, _ = self._listener.accept()
                except TimeoutError:
                    if self._idle():
                        log.info("idle for %.0f s: stopping", self.idle_s)
                        break
                    continue
                except OSError as exc:  # out of file descriptors, say: wait for some to close
                    log.warning("accept failed: %s", exc)
                    time.sleep(ACCEPT_POLL_S)
                    continue
                self._accept(connection)
        finally:
            self.shutdown()

    def shutdown(self) -> None:
        """Stop listening, remove the socket (if it is still ours), end evaluations and stop every worker."""
        self.stopping.set()
        if self._listener is not None:
            self._listener.close()
            self._listener = None
            try:
                if os.stat(self.where.socket).st_ino == self._inode:
                    self.where.socket.unlink()
            except OSError:
                pass
        with self._state:
            for cancel in self._cancels:
                cancel.set()
            handlers = list(self._handlers)
        deadline = time.monotonic() + STOP_WAIT_S
        for handler in handlers:
            handler.join(max(0.0, deadline - time.monotonic()))
        with self._state:
            lanes = list(self._lanes.values())
            self._lanes.clear()
        for lane in lanes:
            lane.pool.close()
        log.info("stopped")

    def _idle(self) -> bool:
        with self._state:
            return not self._handlers and time.monotonic() - self._last_activity >= self.idle_s

    def _accept(self, connection: socket.socket) -> None:
        uid = address.peer_uid(connection)
        if uid != os.getuid():
            log.warning("dropped a connection from uid %d", uid)
            connection.close()
            return
        handler = threading.Thread(target=self._handle, args=(connection,), daemon=True)
        with self._state:
            self._handlers.add(handler)
            self._last_activity = time.monotonic()
        handler.start()

    def _handle(self, connection: socket.socket) -> None:
        channel = wire.Channel(connection)
        try:
            self._converse(channel, address.peer_pid(connection))
        except (OSError, wire.Closed, wire.ProtocolError) as exc:
            log.info("connection ended: %s", exc or type(exc).__name__)
        except Exception:  # the caller sees its connection close, and evaluates in its own process
            log.exception("request failed")
        finally:
            channel.close()
            with self._state:
                self._handlers.discard(threading.current_thread())
                self._last_activity = time.monotonic()

    def _converse(self, channel: wire.Channel, peer: int) -> None:
        channel.send(wire.Hello(os.getpid(), self.where.fingerprint))
        message = channel.receive(REQUEST_WAIT_S)
        if isinstance(message, wire.Evaluate):
            ident = message.id
            self._evaluate(channel, ident, message.request, peer, lambda result: wire.Done(ident, result))
        elif isinstance(message, wire.Forward):
            options = forwarded.prepare(message)
            if isinstance(options, str):
                log.info("pid %d: a call left to the CLI (%s)", peer, options)
                channel.send(wire.Refused(message.id, options))
                return
            request = options.to_request()
            channel.send(wire.Accepted(message.id, client.give_up_s(request)))
            answer = functools.partial(forwarded.printed, message, options)
            self._evaluate(channel, message.id, request, peer, answer, streamed=False)
        else:
            raise wire.ProtocolError(f"expected a request, got {message!r}")

    def _evaluate(
        self,
        channel: wire.Channel,
        ident: str,
        request: EvalRequest,
        peer: int,
        answer: Callable[[EvalResult], wire.Message],
        streamed: bool = True,
    ) -> None:
        """Evaluate `request` on its device's lane (its progress sent along when `streamed`) and send `answer` of
        its result; nothing when the server's stop cancelled it (the caller then evaluates itself)."""
        cancel = threading.Event()
        with self._state:
            self._cancels.add(cancel)
        threading.Thread(target=self._watch, args=(channel, ident, cancel), daemon=True).start()
        try:
            lane = self._lane(request.device or DEFAULT_DEVICE)
            if not self._wait_for(lane, cancel):
                return
            try:
                log.info("pid %d: evaluating %s on %s", peer, request.custom_src, request.device or "default")

                def on_progress(event: ProgressEvent) -> None:
                    try:
                        channel.send(wire.Progress(ident, event))
                    except OSError:
                        cancel.set()

                progress = on_progress if streamed else ignore_progress
                result = lane.pool.evaluate(request, on_progress=progress, cancel=cancel)
                if self.stopping.is_set():
                    return  # cancelled by the shutdown, not by the caller: no result, the caller evaluates itself
                log.info("pid %d: %s", peer, result.verdict.value)
                channel.send(answer(result))
                if lane.pool.spares < SPARES and not self.stopping.is_set():
                    lane.pool.keep_spares(SPARES)
            finally:
                lane.lock.release()
        finally:
            with self._state:
                self._cancels.discard(cancel)

    def _lane(self, device: str) -> Lane:
        with self._state:
            if device not in self._lanes:
                self._lanes[device] = Lane()
            return self._lanes[device]

    def _wait_for(self, lane: Lane, cancel: threading.Event) -> bool:
        """Hold the lane's lock (True), or give up once the request is cancelled or the server stops (False)."""
        while not lane.lock.acquire(timeout=0.1):
            if cancel.is_set() or self.stopping.is_set():
                return False
        if cancel.is_set() or self.stopping.is_set():
            lane.lock.release()
            return False
        return True

    @staticmethod
    def _watch(channel: wire.Channel, ident: str, cancel: threading.Event) -> None:
        """The caller's Cancel, or its connection gone, cancels its evaluation."""
        try:
            while not cancel.is_set():
                message = channel.receive()
                if isinstance(message, wire.Cancel) and message.id == ident:
                    break
        except (OSError, ValueError, wire.Closed, wire.ProtocolError):
            pass
        cancel.set()


def main(argv: list[str] | None = None) -> int:
    options: ServeOptions = arguments.parse(
        ServeOptions, arguments.command("serve"), sys.argv[1:] if argv is None else argv
    )
    logging.basicConfig(
        stream=sys.stderr, level=logging.INFO, format=f"%(asctime)s [{os.getpid()}] %(levelname)s %(message)s"
    )
    spawn.harden_parent()
    try:
        where = address.address()
    except address.AddressProblem as problem:
        log.error("not serving: %s", problem)
        return 2
    server = Server(where, options.idle_s)
    if not server.bind():
        log.info("a server already listens on %s", where.socket)
        return 0

    def on_signal(signum: int, frame: FrameType | None) -> None:
        server.stopping.set()

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, on_signal)
    server.serve()
    return 0


if __name__ == "__main__":
    sys.exit(main())
