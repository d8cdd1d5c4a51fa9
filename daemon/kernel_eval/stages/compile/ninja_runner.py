"""Run ninja in a build directory like torch's `_run_ninja_build`, with build phases printed as they happen and a
way to stop it.

Phase lines go to stdout, which in a worker is its log: the engine streams new log lines as build progress. Each
names the translation unit and the time since the build began: `compiling main.cpp (c++), compiling cuda.cu (nvcc),
linking x.so` first, then `compiled cuda.cu (nvcc) at 11.8 s [2/3]` as each step ends, and a `still compiling …
15 s` heartbeat. An attempt with a label (`[slim headers] …`) says so. The compiler's own output is kept and, on
failure, raised in the RuntimeError torch would raise (`<error_prefix>: <output>`), so error mapping keeps working.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import attrs

STATUS = re.compile(r"^\[(\d+)/(\d+)\] (.*)$")
HEARTBEAT_S = 5.0


@attrs.define
class NinjaRun:
    """One ninja invocation. `stop` (from any thread) kills it, which then fails like a build error."""

    build_dir: Path
    label: str = ""
    """E.g. "slim headers": shown in the phase lines."""
    echo: bool = True
    """Print phase lines (stdout)."""
    stop: threading.Event = attrs.Factory(threading.Event)
    unit_times: dict[str, float] = attrs.Factory(dict)
    """Seconds per translation unit, from .ninja_log."""
    output: str = ""

    def run(self, error_prefix: str, targets: tuple[str, ...] = ()) -> None:
        """Build `targets` (all when empty). Unit times add up over the runs of one build."""
        command = ["ninja", "-v"]
        jobs = os.environ.get("MAX_JOBS", "")
        if jobs.isdigit():
            command += ["-j", jobs]
        command += targets
        if self.stop.is_set():
            raise RuntimeError(f"{error_prefix}: stopped")
        log_start = _ninja_log_size(self.build_dir)
        planned = self.plan(targets)
        self._say(f"{', '.join(planned)}" if planned else "up to date")
        started = time.monotonic()
        sys.stdout.flush()
        proc = subprocess.Popen(
            command,
            cwd=self.build_dir,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its compilers die with it on stop
        )
        lines: list[str] = []
        reader = threading.Thread(target=self._read, args=(proc, lines, started), daemon=True)
        reader.start()
        last_beat = started
        while proc.poll() is None:
            if self.stop.wait(0.2):
                _kill_group(proc)
                break
            if time.monotonic() - last_beat >= HEARTBEAT_S:
                last_beat = time.monotonic()
                self._say(f"still compiling … {last_beat - started:.0f} s")
        proc.wait()
        reader.join(timeout=5)
        self.output = "".join(lines)
        self.unit_times.update(unit_times(self.build_dir, log_start))
        if proc.returncode != 0:
            why = "stopped" if self.stop.is_set() else self.output
            raise RuntimeError(f"{error_prefix}: {why}")

    def plan(self, targets: tuple[str, ...] = ()) -> list[str]:
        """What the build will run (ninja's dry run), described: `compiling cuda.cu (nvcc)`, `linking x.so`."""
        try:
            dry = subprocess.run(
                ["ninja", "-n", "-v", *targets], cwd=self.build_dir, capture_output=True, timeout=60
            )
        except (OSError, subprocess.TimeoutExpired):
            return []
        lines = dry.stdout.decode(errors="replace").splitlines()
        return [describe(status.group(3)) for status in map(STATUS.match, lines) if status]

    def _read(self, proc: subprocess.Popen[bytes], lines: list[str], started: float) -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = raw.decode(errors="replace")
            lines.append(line)
            status = STATUS.match(line.strip())
            if status:
                done = describe(status.group(3)).replace("compiling", "compiled").replace("linking", "linked")
                elapsed = time.monotonic() - started
                self._say(f"{done} at {elapsed:.1f} s [{status.group(1)}/{status.group(2)}]")

    def _say(self, text: str) -> None:
        if self.echo:
            label = f"[{self.label}] " if self.label else ""
            print(f"{label}{text}", flush=True)


def describe(command: str) -> str:
    """`compiling cuda.cu (nvcc)` / `linking x.so` for one of ninja's command lines."""
    source = re.search(r"\s-c\s+(\S+)", command)
    if source:
        tool = "nvcc" if "nvcc" in command.split(" -", 1)[0] else "c++"
        return f"compiling {Path(source.group(1)).name} ({tool})"
    target = re.search(r"\s-o\s+(\S+)", command)
    return f"linking {Path(target.group(1)).name}" if target else "running a build step"


def unit_times(build_dir: Path, start: int = 0) -> dict[str, float]:
    """Seconds per output (object or library) that ninja recorded in its log from byte `start` on."""
    times: dict[str, float] = {}
    try:
        with open(build_dir / ".ninja_log", "rb") as log:
            log.seek(start)
            text = log.read().decode(errors="replace")
    except OSError:
        return times
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) >= 4 and parts[0].isdigit() and parts[1].isdigit():
            times[parts[3]] = (int(parts[1]) - int(parts[0])) / 1000
    return times


def _ninja_log_size(build_dir: Path) -> int:
    try:
        return (build_dir / ".ninja_log").stat().st_size
    except OSError:
        return 0


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()
