"""Draft builds: an extension file's unsaved text, built before the save.

The daemon hands over the editor's text after a pause in typing. It is written to a private draft file and built
by a throwaway process (engine/builds.py) into the build cache of the saved file, with the candidate's levers and
GPU arch and no GPU of its own. When that text is then saved, the candidate's build finds nothing to do, or waits
for the draft build to end. A newer text interrupts the older draft build, and so does the
evaluation of a saved text that differs from it (SIGINT to its process group: ninja removes what it half wrote).
Nothing here runs in the daemon's own process but file writes and process control.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import attrs

from kernel_eval.engine import builds, spawn
from kernel_eval.engine.pool import DEFAULT_DEVICE
from kernel_eval.result import SandboxMode

STOP_WAIT_S = 10.0


@attrs.define
class _Draft:
    text: str
    folder: str
    """Private temporary folder holding the draft file."""
    process: spawn.Child
    started: float


class DraftBuilds:
    """At most one draft build per file. `settle` before each evaluation, `close` at exit."""

    def __init__(self) -> None:
        self._drafts: dict[str, _Draft] = {}
        # file -> (text, seconds) of its last completed build
        self._finished: dict[str, tuple[str, float]] = {}
        self._arch: dict[str, str] = {}
        """What builds.gpu_arch says for each device (asked once)."""
        self._lock = threading.Lock()

    def start(
        self,
        file: str,
        text: str,
        device: str,
        build_dir_prefix: str = "",
        sandbox: SandboxMode = SandboxMode.AUTO,
    ) -> bool:
        """Build `text` as `file` in the background for `device` ("" = the pool's default). False when there is
        nothing to do (no C++/CUDA extension in it, or this text is already built or building). Blocks for a few
        seconds once per device (its arch)."""
        arch = self._device_arch(device or DEFAULT_DEVICE)
        with self._lock:
            self._reap()
            current = self._drafts.get(file)
            if current is not None and current.text == text:
                return False
            if self._finished.get(file, ("", 0.0))[0] == text:
                return False
            self._stop(file)
            folder = tempfile.mkdtemp(prefix="kernel-eval-draft-")
            draft = Path(folder) / Path(file).name
            draft.write_text(text)
            if not builds.needs_prebuild(str(draft)):
                shutil.rmtree(folder, ignore_errors=True)
                return False
            # no GPU: it builds for `arch` and runs nothing on the device
            args = [file, build_dir_prefix, str(draft)]
            process = builds.start(args, Path(folder), sandbox, build_dir_prefix, arch=arch)
            self._drafts[file] = _Draft(text, folder, process, time.monotonic())
            return True

    def settle(self, file: str, text: str, limit_s: float, cancel: threading.Event | None = None) -> str:
        """Before `file` is evaluated with `text` as saved: a draft build of another text is stopped, and one of this
        very text is waited for (up to `limit_s`, or until `cancel`), so the evaluation's own build finds it done
        rather than racing it. Returns a note for the result when a draft build of this text was used."""
        with self._lock:
            self._reap()
            current = self._drafts.get(file)
            if current is not None and current.text != text:
                self._stop(file)
                current = None
        if current is not None:
            _wait(current.process, limit_s, cancel or threading.Event())
        with self._lock:
            self._reap()
            finished = self._finished.get(file)
        if finished is None or finished[0] != text:
            return ""
        if current is not None:
            return (
                f"built from the unsaved text while you typed (started before the save, {finished[1]:.1f} s)"
            )
        return f"built from the unsaved text while you typed ({finished[1]:.1f} s, before the save)"

    def building(self, file: str) -> bool:
        with self._lock:
            self._reap()
            return file in self._drafts

    def close(self) -> None:
        with self._lock:
            for file in list(self._drafts):
                self._stop(file)

    def _device_arch(self, device: str) -> str:
        if device not in self._arch:
            self._arch[device] = builds.gpu_arch(device) if device != "cpu" else "cpu"
        return self._arch[device]

    def _reap(self) -> None:
        for file, draft in list(self._drafts.items()):
            code = draft.process.poll()
            if code is None:
                continue
            del self._drafts[file]
            shutil.rmtree(draft.folder, ignore_errors=True)
            if code == 0:
                self._finished[file] = (draft.text, time.monotonic() - draft.started)

    def _stop(self, file: str) -> None:
        draft = self._drafts.pop(file, None)
        if draft is None:
            return
        if draft.process.poll() is None:
            _signal_group(draft.process, signal.SIGINT)
            try:
                draft.process.wait(timeout=STOP_WAIT_S)
            except subprocess.TimeoutExpired:
                _signal_group(draft.process, signal.SIGKILL)
                draft.process.wait()
        shutil.rmtree(draft.folder, ignore_errors=True)


def _wait(process: spawn.Child, limit_s: float, cancel: threading.Event) -> None:
    deadline = time.monotonic() + limit_s
    while process.poll() is None and not cancel.is_set() and time.monotonic() < deadline:
        cancel.wait(0.1)


def _signal_group(process: spawn.Child, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signum)
