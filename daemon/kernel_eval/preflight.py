"""What can be checked before any worker starts: the files exist, are readable Python text, and the device
string means something. The CLI, batches and the daemon ask the same questions and get the same answers."""

from __future__ import annotations

import os
import re
from pathlib import Path

from kernel_eval.kinds import MessageKind
from kernel_eval.request import EvalRequest
from kernel_eval.result import EvalResult, Location, Message, Phase, Severity, SourceInfo, Verdict

DEVICE = re.compile(r"cpu|cuda(:\d+)?")
DEVICE_FIX = 'use "cpu", "cuda" (the first GPU) or "cuda:N" (GPU number N, from 0)'


def problem(kind: MessageKind, text: str, file: str = "", line: int = 0, hint: str = "") -> Message:
    location = Location(file, line) if file else None
    return Message(Severity.ERROR, Phase.LOAD, kind, text, location, hint)


def check_file(path: str, role: str, flag: str = "") -> Message | None:
    """Why `path` cannot be the `role` ("custom" or "reference") file, or None when it can. `flag` is how the
    user names the file (the CLI's flags by default)."""
    flag = flag or ("--custom_src" if role == "custom" else "--ref_src")
    file = Path(path)
    if not path:
        return problem(
            MessageKind.FILE_NOT_FOUND, f"no {role} file given", hint=f"pass {flag} path/to/file.py"
        )
    if not file.exists():
        return problem(
            MessageKind.FILE_NOT_FOUND,
            f"no such {role} file: {path}",
            hint=f"check the path (relative paths start at {Path.cwd()}), or pass {flag} with the right one",
        )
    if file.is_dir():
        return problem(
            MessageKind.NOT_A_FILE,
            f"the {role} path is a directory, not a file: {path}",
            hint=f"pass {flag} with the .py file inside it",
        )
    if not os.access(file, os.R_OK):
        return problem(
            MessageKind.NOT_READABLE,
            f"cannot read the {role} file {path}: permission denied",
            path,
            hint=f"make it readable (chmod u+r {path})",
        )
    if file.suffix != ".py":
        return problem(
            MessageKind.NOT_PYTHON,
            f"the {role} file must be a Python file (.py): {path}",
            path,
            hint=f"pass {flag} with the .py file that defines the model",
        )
    return _binary(path, role)


def _binary(path: str, role: str) -> Message | None:
    """A .py file that is not text: NUL bytes or invalid UTF-8, at the line where the first one is."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        return problem(MessageKind.NOT_READABLE, f"cannot read the {role} file {path}: {exc.strerror}", path)
    nul = data.find(b"\0")
    try:
        data.decode("utf-8")
        bad, what = nul, "a NUL byte"
    except UnicodeDecodeError as exc:
        bad, what = exc.start, f"a byte that is not UTF-8 (0x{data[exc.start]:02x})"
        if 0 <= nul < bad:
            bad, what = nul, "a NUL byte"
    if bad < 0:
        return None
    line = data.count(b"\n", 0, bad) + 1
    return problem(
        MessageKind.NOT_TEXT,
        f"the {role} file is not Python source text: {what} at line {line}",
        path,
        line,
        hint="pass the .py source file (UTF-8 text), not a binary or a file in another encoding",
    )


def check_device(device: str) -> Message | None:
    """None for "", cpu, cuda and a cuda:N this machine has (or cannot tell about), else what to pass instead."""
    if not device or device == "cpu":
        return None
    found = DEVICE.fullmatch(device)
    if not found:
        return problem(MessageKind.BAD_DEVICE, f"unknown device {device!r}", hint=DEVICE_FIX)
    index, count = int((found[1] or ":0")[1:]), nvidia_gpu_count()
    if count is None or index < count:
        return None  # without NVIDIA's driver, CUDA devices fall back to the CPU, with a note
    names = {0: "", 1: " (cuda:0)"}.get(count, f" (cuda:0 to cuda:{count - 1})")
    have = f"{count} NVIDIA GPU{'s' if count != 1 else ''}{names}"
    return problem(
        MessageKind.NO_SUCH_DEVICE,
        f"no GPU {device} on this machine: it has {have}",
        hint=f"pass --device cuda:N with N below {count}, or --device cpu" if count else "pass --device cpu",
    )


def nvidia_gpu_count() -> int | None:
    """GPUs NVIDIA's driver knows (one folder each under /proc/driver/nvidia/gpus), or None without the driver."""
    try:
        return len(list(Path(NVIDIA_GPUS).iterdir()))
    except OSError:
        return None


NVIDIA_GPUS = "/proc/driver/nvidia/gpus"


def check(custom_src: str, ref_src: str, device: str) -> list[Message]:
    """Every problem found in a request's files and device, custom file first."""
    found = (check_file(custom_src, "custom"), check_file(ref_src, "reference"), check_device(device))
    return [message for message in found if message is not None]


def rejected(request: EvalRequest, messages: list[Message], verdict: Verdict = Verdict.ERROR) -> EvalResult:
    """The result of a request that no worker evaluated: it failed its checks (an error at load), or it was
    cancelled before a result could be had."""
    return EvalResult(
        verdict=verdict,
        phase=Phase.LOAD,
        ref=SourceInfo(request.ref_src, request.ref_entry_point),
        custom=SourceInfo(request.custom_src, request.custom_entry_point),
        device=request.device,
        messages=messages,
    )
