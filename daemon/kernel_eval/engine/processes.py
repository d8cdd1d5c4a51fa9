"""The parent's handle on one worker process: spawn, call over the private pipe, read its output, kill."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import kernel_eval
from kernel_eval.protocol import channel

PAYLOAD_DIR_ENV = "KERNEL_EVAL_PAYLOAD_DIR"  # kernel_eval.worker.payload reads it (that module needs torch)

_PACKAGE_ROOT = str(Path(kernel_eval.__file__).resolve().parent.parent)
MAX_CAPTURED_CHARS = 64_000


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


def cuda_visible_devices(device: str) -> str | None:
    """cuda:N runs as device 0 of its worker, so code that hard-codes device 0 still lands on N."""
    if device.startswith("cuda"):
        _, _, index = device.partition(":")
        return index or "0"
    return None


class WorkerProcess:
    def __init__(self, role: str, device: str, payload_dir: str) -> None:
        self.role = role
        self.device = device
        self._dir = Path(tempfile.mkdtemp(prefix=f"kernel-eval-{role}-"))
        self.log_path = self._dir / "output.log"
        self._log_offset = 0
        self._stream_offset = 0
        self.hello: dict[str, Any] | None = None
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_PACKAGE_ROOT, env.get("PYTHONPATH", "")) if p)
        env["PYTHONUNBUFFERED"] = "1"
        env[PAYLOAD_DIR_ENV] = payload_dir
        env.pop("TRITON_INTERPRET", None)
        visible = cuda_visible_devices(device)
        if visible is not None:
            env["CUDA_VISIBLE_DEVICES"] = visible
        with open(self.log_path, "wb") as log:
            self._proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "kernel_eval.worker.main",
                    role,
                    device,
                    str(to_child_r),
                    str(from_child_w),
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                pass_fds=(to_child_r, from_child_w),
                env=env,
                cwd=str(self._dir),
                start_new_session=True,  # its own process group: a kill also reaches ninja/nvcc children
            )
        os.close(to_child_r)
        os.close(from_child_w)

    @property
    def pid(self) -> int:
        return self._proc.pid

    @property
    def alive(self) -> bool:
        return self._proc.poll() is None

    def wait_ready(
        self, timeout: float = 300.0, should_abort: Callable[[], bool] | None = None
    ) -> dict[str, Any]:
        if self.hello is None:
            self.hello = self._recv(time.monotonic() + timeout, should_abort)
        return self.hello

    def call(
        self,
        op: str,
        args: dict[str, Any] | None = None,
        timeout: float | None = None,
        should_abort: Callable[[], bool] | None = None,
    ) -> dict[str, Any]:
        """Send one request and wait for its reply (raises WorkerDied, ChannelTimeout, ChannelAborted)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        self.wait_ready(timeout if timeout is not None else 300.0, should_abort)
        try:
            channel.send(self._to_child, {"op": op, **(args or {})})
        except OSError as exc:
            raise WorkerDied(self._proc.poll()) from exc
        return self._recv(deadline, should_abort)

    def _recv(self, deadline: float | None, should_abort: Callable[[], bool] | None) -> dict[str, Any]:
        try:
            return channel.recv(self._from_child, deadline, should_abort)
        except channel.ChannelClosed as exc:
            raise WorkerDied(self._wait_exit()) from exc

    def _wait_exit(self) -> int | None:
        try:
            return self._proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            return None

    def take_output(self) -> str:
        """What the worker (and anything it ran) wrote to stdout/stderr since the last call."""
        data = self._read_log(self._log_offset)
        self._log_offset += len(data)
        text = data.decode(errors="replace")
        if len(text) > MAX_CAPTURED_CHARS:
            text = f"[… {len(text) - MAX_CAPTURED_CHARS} characters cut …]\n" + text[-MAX_CAPTURED_CHARS:]
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
        """Complete lines written since the last call (for streaming build output as progress)."""
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

    def kill(self) -> None:
        if self.alive:
            try:
                os.killpg(self._proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                self._proc.kill()
        self._wait_exit()
        for fd in (self._to_child, self._from_child):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._to_child = self._from_child = -1
        for path in self._dir.glob("*"):
            path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            self._dir.rmdir()
