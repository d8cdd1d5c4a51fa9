"""The engine's template process (worker/template.py): started once per engine process, asked to fork each
worker and build process, so a new one is ready in the time its CUDA start takes.

`start_child` returns None whenever a fork cannot be had (KERNEL_EVAL_TEMPLATE=0, the template failed to start or
died, a descriptor it cannot pass): engine/spawn.py then starts the child the ordinary way. A child is the
template's, not ours: `ForkedProcess` waits on the exits the template reports and signals through a pidfd, so a
reused pid is never hit.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import logging
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future
from pathlib import Path

from kernel_eval.engine import child_setup
from kernel_eval.protocol import template as messages
from kernel_eval.protocol.template import FORKABLE, MAX_FDS, MAX_PACKET, Exited, Fork, Forked, TemplateReady

ENABLE_ENV = "KERNEL_EVAL_TEMPLATE"
"""0: start every child as a fresh interpreter (as before the template; for comparisons)."""
READY_TIMEOUT_S = 300.0
FORK_TIMEOUT_S = 30.0
KILLED = -signal.SIGKILL
EXIT_POLL_S = 0.1


class ForkedProcess:
    """A child forked by the template, with the part of subprocess.Popen the engine uses."""

    def __init__(self, pid: int, template: Template) -> None:
        self.pid = pid
        self.returncode: int | None = None
        self._status = KILLED
        self._template = template
        self._exited = threading.Event()
        try:
            self._pidfd: int | None = os.pidfd_open(pid)
        except OSError:
            self._pidfd = None

    def poll(self) -> int | None:
        if self.returncode is None and self._exited.is_set():
            self._settle()
        elif self.returncode is None and not self._template.alive and self._gone():
            self.returncode = KILLED  # the template died first: nobody can tell us its status
            self._close_pidfd()
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while (returncode := self.poll()) is None:  # in steps: a template that dies never reports this exit
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise subprocess.TimeoutExpired(["kernel-eval forked child", str(self.pid)], timeout or 0.0)
            self._exited.wait(EXIT_POLL_S if left is None else min(EXIT_POLL_S, left))
        return returncode

    def kill(self) -> None:
        if self.returncode is None and self._pidfd is not None:
            with contextlib.suppress(OSError):
                signal.pidfd_send_signal(self._pidfd, signal.SIGKILL)

    def exited(self, returncode: int) -> None:
        self._status = returncode
        self._exited.set()

    def _settle(self) -> None:
        self.returncode = self._status
        self._close_pidfd()

    def _gone(self) -> bool:
        if self._pidfd is None:
            return True
        return bool(select.select([self._pidfd], [], [], 0)[0])

    def _close_pidfd(self) -> None:
        if self._pidfd is not None:
            os.close(self._pidfd)
            self._pidfd = None


class Template:
    """One template process and the thread that reads what it says."""

    def __init__(self, env: dict[str, str], folder: Path) -> None:
        self._control, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._log = folder / "template.log"
        with open(self._log, "wb") as log:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "kernel_eval.worker.template", str(theirs.fileno())],
                env=env,
                cwd=folder,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                pass_fds=(theirs.fileno(),),
                start_new_session=True,
            )
        theirs.close()
        self.ready: Future[TemplateReady] = Future()
        self._ids = itertools.count(1)
        self._send = threading.Lock()
        self._pending: dict[int, Future[ForkedProcess]] = {}
        self._children: dict[int, ForkedProcess] = {}
        self.closed = False
        """Closed by us: a fork asked meanwhile fails as expected, with nothing to report."""
        self._reader = threading.Thread(target=self._read, name="kernel-eval-template", daemon=True)
        self._reader.start()

    @property
    def alive(self) -> bool:
        return self._process.poll() is None and self._reader.is_alive()

    def fork(
        self, module: str, argv: Sequence[str], env: dict[str, str], cwd: str, fds: dict[int, int]
    ) -> ForkedProcess:
        """Fork a child that runs `module`'s main(argv), with `fds` (its number: ours) placed. Raises OSError when
        the template cannot."""
        self.ready.result(timeout=READY_TIMEOUT_S)
        request = Fork(next(self._ids), module, list(argv), env, cwd, list(fds))
        answer: Future[ForkedProcess] = Future()
        with self._send:
            self._pending[request.id] = answer
            socket.send_fds(self._control, [messages.encode(request)], list(fds.values()))
        return answer.result(timeout=FORK_TIMEOUT_S)

    def close(self) -> None:
        """Stop the template; its children are killed with it."""
        self.closed = True
        with contextlib.suppress(OSError):
            self._control.shutdown(socket.SHUT_RDWR)
        self._control.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._process.wait(timeout=5)
        if self._process.poll() is None:
            self._process.kill()
            self._process.wait()

    def _read(self) -> None:
        try:
            while True:
                packet, _, _, _ = socket.recv_fds(self._control, MAX_PACKET, MAX_FDS)
                if not packet:
                    break
                self._dispatch(messages.decode(packet))
        except OSError:
            pass
        finally:
            failure = OSError(
                "the template was closed" if self.closed else f"the template process stopped: {self.tail()}"
            )
            if not self.ready.done():
                self.ready.set_exception(failure)
            for pending in self._pending.values():
                if not pending.done():
                    pending.set_exception(failure)

    def _dispatch(self, message: messages.Message) -> None:
        if isinstance(message, TemplateReady):
            self.ready.set_result(message)
        elif isinstance(message, Forked):
            answer = self._pending.pop(message.id)
            if message.pid:
                child = self._children[message.pid] = ForkedProcess(message.pid, self)
                answer.set_result(child)
            else:
                answer.set_exception(OSError(f"the template could not fork: {message.error}"))
        elif isinstance(message, Exited) and message.pid in self._children:
            self._children.pop(message.pid).exited(message.returncode)

    def tail(self) -> str:
        with contextlib.suppress(OSError):
            return self._log.read_text(errors="replace")[-2000:]
        return ""


_lock = threading.Lock()
_template: Template | None = None
_owner_pid = 0


def enabled() -> bool:
    return os.environ.get(ENABLE_ENV, "1") != "0" and hasattr(os, "pidfd_open") and sys.platform == "linux"


def start_child(
    module: str, argv: Sequence[str], env: dict[str, str], cwd: str, fds: dict[int, int]
) -> ForkedProcess | None:
    """A fork of this process's template running `module`, or None where there is none to be had."""
    if module not in FORKABLE or len(fds) > MAX_FDS or not enabled():
        return None
    template = shared()
    if template is None:
        return None
    try:
        return template.fork(module, argv, env, cwd, fds)
    except (OSError, TimeoutError) as exc:
        if not template.closed:  # closed: this process is exiting
            logging.getLogger(__name__).warning("kernel-eval: a fresh process instead of a fork: %s", exc)
        return None


def shared() -> Template | None:
    """This process's template, started on first use (and again if it died)."""
    global _template, _owner_pid
    with _lock:
        if _template is not None and (_owner_pid != os.getpid() or not _template.alive):
            if _owner_pid == os.getpid():
                _template.close()
            _template = None
        if _template is None:
            folder = child_setup.private_folder("template")
            _template, _owner_pid = (
                Template(child_setup.template_environment(folder / "tmp"), folder),
                os.getpid(),
            )
            atexit.register(_stop, _template, folder)
        return _template


def _stop(template: Template, folder: Path) -> None:
    template.close()
    shutil.rmtree(folder, ignore_errors=True)


def warm_up() -> None:
    """Start the template now, in the background, if it is to be used."""
    if enabled():
        shared()
