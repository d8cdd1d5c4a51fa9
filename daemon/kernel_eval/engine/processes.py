"""The parent's handle on one worker process: spawn, call over the private pipe, read its output, kill."""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from kernel_eval.engine import child_setup, spawn
from kernel_eval.protocol import channel
from kernel_eval.protocol.messages import HELLO_ID, PAYLOAD_DIR_ENV, Envelope, Hello, Params, R, Reply
from kernel_eval.result import Message, SandboxMode, from_data, to_data

MAX_CAPTURED_CHARS = 64_000
DEFAULT_START_TIMEOUT_S = 300.0


class WorkerDied(Exception):
    """The worker exited while we waited for it."""

    def __init__(self, returncode: int | None) -> None:
        self.returncode = returncode
        super().__init__(describe_exit(returncode))


def describe_exit(returncode: int | None) -> str:
    if returncode is None:
        return "the worker process stopped answering"
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"the worker process was killed by {name}"
    return f"the worker process exited with status {returncode}"


class WorkerError(Exception):
    """The worker answered the request with an error (the user's code failed, or the input was bad)."""

    def __init__(self, messages: list[Message]) -> None:
        super().__init__(messages[0].message if messages else "worker error")
        self.messages = messages


class ProtocolError(Exception):
    """The worker answered something other than the reply to the request in flight."""


class WorkerTimeout(Exception):
    """No reply before the deadline. `stack` is the worker's Python stack at that moment (faulthandler)."""

    def __init__(self, stack: str) -> None:
        super().__init__("the worker did not answer in time")
        self.stack = stack


class WorkerProcess:
    """One worker. Invariant: a worker with an unanswered request is killed, never reused. Whatever interrupts
    a request (timeout, cancellation, a protocol error, an exception in the parent), the worker is dead after it.
    """

    def __init__(
        self,
        role: str,
        device: str,
        payload_dir: str,
        sandbox: SandboxMode = SandboxMode.AUTO,
        build_dir_prefix: str = "",
    ) -> None:
        self.role = role
        self.device = device
        # the custom file a candidate serves: WorkerPool gives each file its own candidate
        self.user_file = ""
        # its own payload folder: it writes there only, and the other workers read it
        self._payload_dir = Path(tempfile.mkdtemp(prefix=f"{role}-", dir=payload_dir))
        self._dir = child_setup.private_folder(role)
        self.log_path = self._dir / "output.log"
        self._log_offset = 0
        self._stream_offset = 0
        self._ids = itertools.count(HELLO_ID + 1)
        self.hello: Hello | None = None
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()
        extra_env = {PAYLOAD_DIR_ENV: str(self._payload_dir)}
        confinement = child_setup.policy(
            sandbox, role, self._dir / "tmp", build_dir_prefix, str(self._payload_dir), readable=[payload_dir]
        )
        args = [role, device, str(to_child_r), str(from_child_w), str(os.getpid())]
        with open(self.log_path, "wb") as log:
            self._proc = spawn.start(
                "kernel_eval.worker.main",
                args,
                confinement,
                extra_env,
                device=device,
                output=log,
                pass_fds=(to_child_r, from_child_w),
            )
        os.close(to_child_r)
        os.close(from_child_w)

    @property
    def payload_folder(self) -> Path:
        return self._payload_dir

    @property
    def workdir(self) -> Path:
        """Its working directory and TMPDIR: the one folder of its own it may write besides its payloads."""
        return self._dir / "tmp"

    @property
    def pid(self) -> int:
        return self._proc.pid

    @property
    def alive(self) -> bool:
        return self._proc.poll() is None

    def wait_ready(self, timeout: float, should_abort: Callable[[], bool] | None = None) -> Hello:
        if self.hello is None:
            reply = self._exchange(None, HELLO_ID, time.monotonic() + timeout, should_abort)
            self.hello = from_data(reply.result, Hello)
        return self.hello

    def request(
        self,
        params: Params[R],
        timeout: float | None = None,
        should_abort: Callable[[], bool] | None = None,
        on_output: Callable[[list[str]], None] | None = None,
    ) -> R:
        """Send one request and return its typed result. `on_output` gets the worker's new lines of output while
        it waits (a build's progress).

        Raises WorkerError (the worker answered with an error; it stays usable), or, after killing the worker:
        WorkerDied, WorkerTimeout, channel.ChannelAborted, ProtocolError, or whatever interrupted the wait.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        self.wait_ready(timeout if timeout is not None else DEFAULT_START_TIMEOUT_S, should_abort)
        request_id = next(self._ids)
        envelope = Envelope(request_id, params.METHOD, to_data(params))
        reply = self._exchange(envelope, request_id, deadline, _watching(self, should_abort, on_output))
        if reply.error is not None:
            raise WorkerError(reply.error)
        return from_data(reply.result, params.RESULT)  # type: ignore[no-any-return]

    def _exchange(
        self,
        envelope: Envelope | None,
        request_id: int,
        deadline: float | None,
        should_abort: Callable[[], bool] | None,
    ) -> Reply:
        try:
            if envelope is not None:
                channel.send(self._to_child, to_data(envelope))
            reply = from_data(channel.recv(self._from_child, deadline, should_abort), Reply)
            if reply.id != request_id:
                raise ProtocolError(f"the {self.role} worker answered request {reply.id}, not {request_id}")
            return reply
        except channel.ChannelTimeout:
            stack = self.stack_dump()
            self.kill()
            raise WorkerTimeout(stack) from None
        except (channel.ChannelClosed, OSError) as exc:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(timeout=5)  # it is exiting: let it, so its own exit status is what we report
            self.kill()
            raise WorkerDied(self._proc.returncode) from exc
        except BaseException:
            self.kill()  # cancelled, malformed reply, or the parent failed: the reply is owed, so never reuse
            raise

    def take_output(self) -> str:
        """What the worker (and anything it ran) wrote to stdout/stderr since the last call."""
        data = self._read_log(self._log_offset)
        self._log_offset += len(data)
        text = data.decode(errors="replace")
        if len(text) > MAX_CAPTURED_CHARS:
            tail = text[-MAX_CAPTURED_CHARS:]
            tail = tail[tail.find("\n") + 1 :]  # whole lines only
            text = f"[… {len(text) - len(tail)} characters cut …]\n" + tail
        return text

    def stack_dump(self, wait_s: float = 1.0) -> str:
        """Ask a live worker to print its Python stack (faulthandler on SIGUSR1) and return what it printed."""
        if not self.alive:
            return ""
        start = self._log_size()
        os.kill(self._proc.pid, signal.SIGUSR1)
        deadline = time.monotonic() + wait_s
        size = start
        while time.monotonic() < deadline:
            time.sleep(0.05)
            new_size = self._log_size()
            if new_size > start and new_size == size:
                break
            size = new_size
        return self._read_log(start).decode(errors="replace")

    def tail(self, lines: int = 8) -> str:
        """The last lines the worker wrote (without consuming them)."""
        text = self._read_log(max(self._log_size() - 16384, 0)).decode(errors="replace")
        return "\n".join(text.rstrip().splitlines()[-lines:])

    def new_lines(self) -> list[str]:
        """Complete lines written since the last call."""
        data = self._read_log(self._stream_offset)
        complete = data[: data.rfind(b"\n") + 1]
        self._stream_offset += len(complete)
        return [line for line in complete.decode(errors="replace").splitlines() if line.strip()]

    def _read_log(self, start: int) -> bytes:
        """What the worker wrote from byte `start` on (b"" once its log is gone)."""
        try:
            with open(self.log_path, "rb") as log:
                log.seek(start)
                return log.read()
        except OSError:
            return b""

    def _log_size(self) -> int:
        try:
            return self.log_path.stat().st_size
        except OSError:
            return 0

    @contextlib.contextmanager
    def stopped(self) -> Iterator[None]:
        """The worker and everything it started (its process group) stopped meanwhile (SIGSTOP, then SIGCONT): no
        thread or child of it takes a CPU from another process's timing."""
        self._signal_group(signal.SIGSTOP)
        try:
            yield
        finally:
            self._signal_group(signal.SIGCONT)

    def _signal_group(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._proc.pid, signum)

    def signal_kill(self) -> None:
        """SIGKILL the worker and everything it started (its process group), without waiting for them to go."""
        self._signal_group(signal.SIGKILL)  # the group outlives its leader: kill it even if it exited
        if self.alive:
            self._proc.kill()

    def kill(self) -> None:
        """Kill the worker and everything it started (its process group). Its log stays readable."""
        self.signal_kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._proc.wait(timeout=5)
        for fd in (self._to_child, self._from_child):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._to_child = self._from_child = -1
        if not self.alive:
            shutil.rmtree(self._payload_dir, ignore_errors=True)  # its arena, and payloads nobody read

    def close(self) -> None:
        """Kill the worker and remove its log."""
        self.kill()
        shutil.rmtree(self._dir, ignore_errors=True)


def _watching(
    worker: WorkerProcess,
    should_abort: Callable[[], bool] | None,
    on_output: Callable[[list[str]], None] | None,
) -> Callable[[], bool] | None:
    """The check run while a reply is awaited: new output handed to `on_output`, then `should_abort` asked."""
    if on_output is None:
        return should_abort

    def check() -> bool:
        lines = worker.new_lines()
        if lines:
            on_output(lines)
        return should_abort() if should_abort is not None else False

    return check
