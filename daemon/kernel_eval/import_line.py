"""The line of a user's file that a worker is importing, kept where the parent can read it after the worker died
(os._exit, a segfault, the OOM killer): a process that dies without a Python error leaves no traceback to read.

Inside a worker, the line sits in an 8-byte shared mapping of a file in the worker's working directory (its private
temporary folder, which the sandbox lets it write), written on each line of the user's file while it is imported. A clean import removes the file.
"""

from __future__ import annotations

import contextlib
import mmap
import struct
import sys
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any

FILE_NAME = "importing-line"
_FORMAT = "<q"
_recorded = False


def record_imports() -> None:
    """Called by a worker at its start: its imports of user files keep their line. Elsewhere (a build-only process,
    a test) nobody would read it, so nothing is kept."""
    global _recorded
    _recorded = True


@contextlib.contextmanager
def recording(file: str) -> Iterator[None]:
    """While the block runs, the line of `file` being executed is kept in FILE_NAME (in a worker only)."""
    if not _recorded:
        yield
        return
    path = Path.cwd() / FILE_NAME
    with open(path, "w+b") as handle:
        handle.truncate(struct.calcsize(_FORMAT))
        shared = mmap.mmap(handle.fileno(), struct.calcsize(_FORMAT))

    def on_line(frame: FrameType, event: str, arg: Any) -> Any:
        if event == "line":
            struct.pack_into(_FORMAT, shared, 0, frame.f_lineno)
        return on_line

    def on_call(frame: FrameType, event: str, arg: Any) -> Any:
        return on_line if frame.f_code.co_filename == file else None

    previous = sys.gettrace()
    sys.settrace(on_call)
    try:
        yield
    finally:
        sys.settrace(previous)
        shared.close()
        path.unlink(missing_ok=True)


def last_line(worker_folder: Path) -> int:
    """The line a dead worker was importing (0 when it was not importing, or it cannot be told)."""
    try:
        data = (worker_folder / FILE_NAME).read_bytes()
    except OSError:
        return 0
    if len(data) != struct.calcsize(_FORMAT):
        return 0
    return max(int(struct.unpack(_FORMAT, data)[0]), 0)


def oom_kills() -> int:
    """How many processes the kernel's OOM killer has killed, on this machine and in this process's memory cgroup
    (v1 or v2): a count that rose while a worker died of SIGKILL says out of memory."""
    return _counter(Path("/proc/vmstat"), "oom_kill") + sum(
        _counter(path, "oom_kill") for path in _cgroup_memory_files()
    )


def _cgroup_memory_files() -> list[Path]:
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return []
    found = []
    for line in lines:
        _, controllers, group = line.split(":", 2)
        if controllers == "":  # cgroup v2
            found.append(Path("/sys/fs/cgroup") / group.lstrip("/") / "memory.events")
        elif "memory" in controllers.split(","):
            found.append(Path("/sys/fs/cgroup/memory") / group.lstrip("/") / "memory.oom_control")
    return found


def _counter(path: Path, name: str) -> int:
    try:
        for line in path.read_text().splitlines():
            key, _, value = line.partition(" ")
            if key == name and value.strip().isdigit():
                return int(value)
    except OSError:
        pass
    return 0
