"""What the user reads when a worker gave no answer: cancelled, out of time (and where), crashed, out of memory,
or never started. Also the notes on how the custom code was confined."""

from __future__ import annotations

import re
import signal
import sys

import attrs

from kernel_eval import import_line
from kernel_eval.engine.processes import WorkerDied, WorkerProcess, WorkerTimeout
from kernel_eval.kinds import MessageKind
from kernel_eval.protocol.channel import ChannelAborted
from kernel_eval.result import (
    Location,
    Message,
    Phase,
    ProtectionState,
    SandboxMode,
    SandboxRecord,
    Severity,
    SourceInfo,
)


@attrs.frozen
class Waiting:
    """Where an evaluation stood when its wait for a worker ended without an answer."""

    worker: WorkerProcess
    """The worker whose answer was awaited: the one to blame."""
    phase: Phase
    ref: SourceInfo
    custom: SourceInfo
    build_timeout_s: float
    timeout_s: float
    out_of_time_s: float | None
    """The whole evaluation's limit, when it was that limit that stopped the wait (None: it was not)."""
    oom_kills_before: int
    """The kernel's count of OOM kills when the evaluation began: a SIGKILL with a higher count means OOM."""


def cancelled(phase: Phase, where: Location | None = None) -> Message:
    """The error of an evaluation stopped by its caller (Ctrl-C, a newer save) at `phase`."""
    return Message(Severity.ERROR, phase, MessageKind.CANCELLED, "evaluation cancelled", where)


def failure_message(exc: Exception, waiting: Waiting) -> Message:
    """The message for a wait that ended with `exc` (ChannelAborted, WorkerTimeout or WorkerDied)."""
    worker, phase = waiting.worker, waiting.phase
    side = worker.role
    source = waiting.ref if side == "judge" else waiting.custom
    where = Location(source.file, source.forward_line or source.class_line)
    if isinstance(exc, ChannelAborted):
        if waiting.out_of_time_s is not None:
            text = f"the pair took longer than {waiting.out_of_time_s:g} s in all and was stopped"
            return Message(Severity.ERROR, phase, MessageKind.TIMEOUT, text, where)
        return cancelled(phase, where)
    if isinstance(exc, WorkerTimeout):
        where = _innermost_frame(exc.stack, where.file) or where
        building = phase in (Phase.LOAD, Phase.BUILD)
        limit = waiting.build_timeout_s if building else waiting.timeout_s
        what = "the build" if building else "running the kernels"
        return Message(
            Severity.ERROR,
            phase,
            MessageKind.TIMEOUT,
            f"{what} took longer than {limit:g} s; the {side} worker was stopped",
            where,
            hint="look for an endless loop or a kernel that never finishes (or raise the timeout)",
        )
    assert isinstance(exc, WorkerDied)
    if worker.hello is None:
        return _start_failure(worker, exc)
    died = _died_importing_or_oom(exc, waiting, where)
    if died is not None:
        return died
    return Message(
        Severity.ERROR,
        phase,
        MessageKind.CRASH,
        f"{exc} during {phase.value} ({'reference' if side == 'judge' else 'custom'} side)",
        where,
        hint="the process died without a Python error: a segfault, a CUDA fault, os._exit or the OOM killer; "
        "see the captured output",
    )


def _died_importing_or_oom(exc: WorkerDied, waiting: Waiting, where: Location) -> Message | None:
    """A worker that died while importing the user's file (told at the line it was running), or that the OOM
    killer killed. None for any other death."""
    worker, phase = waiting.worker, waiting.phase
    what = "reference" if worker.role == "judge" else "custom"
    importing = import_line.last_line(worker.workdir) if phase in (Phase.LOAD, Phase.BUILD) else 0
    where = Location(where.file, importing) if importing else where
    running = f"while importing line {importing} of the {what} file" if importing else f"during {phase.value}"
    if exc.returncode == -signal.SIGKILL and import_line.oom_kills() > waiting.oom_kills_before:
        return Message(
            Severity.ERROR,
            phase,
            MessageKind.OUT_OF_MEMORY,
            f"out of memory: the kernel's OOM killer killed the {what} side's process {running}",
            where,
            hint="the machine ran out of memory: allocate less here (check the sizes), or free memory first",
        )
    if not importing:
        return None
    return Message(
        Severity.ERROR,
        phase,
        MessageKind.CRASH,
        f"{exc} {running}",
        where,
        hint="the code at this line ended the process without a Python error (os._exit, a crash in native code, "
        "a signal); see the captured output",
    )


def _start_failure(worker: WorkerProcess, exc: WorkerDied) -> Message:
    """A worker that died before it was ready: usually torch (or another import) missing from this Python."""
    output = worker.tail()
    last = output.splitlines()[-1] if output else str(exc)
    hint = "see the worker's output in the detail"
    if "No module named" in output:
        hint = f"install what is missing into the interpreter kernel-eval runs with: {sys.executable} -m pip install torch ninja triton"
    return Message(
        Severity.ERROR,
        Phase.LOAD,
        MessageKind.WORKER_START_FAILED,
        f"the {worker.role} worker could not start ({exc}): {last}",
        hint=hint,
        detail=output,
    )


_FRAME = re.compile(r'File "(?P<file>[^"]+)", line (?P<line>\d+)')


def _innermost_frame(stack_dump: str, file: str) -> Location | None:
    """faulthandler prints the most recent call first: the first frame in the user's file is where it hung."""
    for match in _FRAME.finditer(stack_dump):
        if match["file"] == file:
            return Location(file, int(match["line"]))
    return None


def sandbox_notes(record: SandboxRecord) -> list[Message]:
    """A warning when the custom code ran unconfined, and a note for each protection the host cannot give."""
    if record.mode is SandboxMode.OFF:
        return [
            Message(
                Severity.WARNING,
                Phase.LOAD,
                MessageKind.SANDBOX_OFF,
                "the sandbox is off: the custom code ran with all of your user's rights (files, network, secrets)",
                hint="drop --sandbox off (or kernelEval.sandbox: off) unless you trust this file",
            )
        ]
    return [
        Message(
            Severity.INFO, Phase.LOAD, MessageKind.SANDBOX, f"sandbox: {p.name} unavailable here: {p.detail}"
        )
        for p in record.protections
        if p.state is ProtectionState.UNAVAILABLE
    ]
