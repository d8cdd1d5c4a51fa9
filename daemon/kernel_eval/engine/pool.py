"""WorkerPool: the engine's entry point for the CLI and the daemon.

It owns a judge worker (reference side, trusted) and a candidate worker (custom side, disposable) plus a hot spare
candidate, and walks one evaluation through load → build → check → time. It imports no torch itself.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import attrs

from kernel_eval import source_info
from kernel_eval.engine.orchestration import Evaluation
from kernel_eval.engine.processes import WorkerDied, WorkerProcess
from kernel_eval.errors import EvalError
from kernel_eval.progress import ProgressCallback, ignore_progress
from kernel_eval.protocol.channel import ChannelAborted, ChannelTimeout
from kernel_eval.request import EvalRequest
from kernel_eval.result import EvalResult, Location, Message, Phase, Severity, Verdict

DEFAULT_DEVICE = "cuda:0"


class WorkerPool:
    """Warm judge + candidate worker processes (+ one hot spare candidate).

    evaluate() is blocking and serialised (one evaluation at a time); call it from a thread in asyncio code.
    Setting `cancel` kills the running candidate; the result then has verdict error, kind "cancelled",
    and the spare takes over.
    """

    def __init__(self, *, spare: bool = True) -> None:
        self.spare = spare
        self._lock = threading.Lock()
        self._device = ""
        self._judge: WorkerProcess | None = None
        self._candidate: WorkerProcess | None = None
        self._spare: WorkerProcess | None = None
        shm = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
        self._payload_dir = tempfile.mkdtemp(prefix="kernel-eval-payload-", dir=shm)  # mode 0700

    @property
    def candidate_pid(self) -> int | None:
        return self._candidate.pid if self._candidate else None

    def warm_up(self, device: str = "") -> None:
        """Start the worker processes for `device` in the background (returns at once)."""
        with self._lock:
            self._ensure_workers(device or DEFAULT_DEVICE)

    def evaluate(
        self,
        request: EvalRequest,
        on_progress: ProgressCallback = ignore_progress,
        cancel: threading.Event | None = None,
    ) -> EvalResult:
        started = time.monotonic()
        cancel = cancel or threading.Event()
        request = attrs.evolve(
            request,
            ref_src=str(Path(request.ref_src).resolve()),
            custom_src=str(Path(request.custom_src).resolve()),
        )
        with self._lock:
            device = request.device or DEFAULT_DEVICE
            result = EvalResult(
                verdict=Verdict.ERROR,
                phase=Phase.LOAD,
                ref=source_info.describe(request.ref_src, request.ref_entry_point),
                custom=source_info.describe(request.custom_src, request.custom_entry_point),
                device=device,
                backend=source_info.detect_backend(request.custom_src),
            )
            self._ensure_workers(device)
            assert self._judge is not None and self._candidate is not None
            judge, candidate = self._judge, self._candidate
            evaluation = Evaluation(request, result, judge, candidate, on_progress, cancel.is_set)
            try:
                evaluation.run()
            except EvalError as error:
                result.messages.extend(error.messages)
            except (WorkerDied, ChannelTimeout, ChannelAborted) as exc:
                result.messages.append(self._failure_message(exc, evaluation))
            finally:
                result.captured_output = {"reference": judge.take_output(), "custom": candidate.take_output()}
            self._replace_dead_or_tainted(evaluation)
            if result.errors:
                result.verdict = Verdict.ERROR
            result.duration_s = round(time.monotonic() - started, 4)
            return result

    def kill_candidate(self) -> bool:
        """Kill the candidate process now; True if one was running. The evaluation reports a crash."""
        candidate = self._candidate
        if candidate is None or not candidate.alive:
            return False
        candidate.kill()
        return True

    def close(self) -> None:
        """Stop all workers and remove their payloads."""
        self._stop_workers()
        shutil.rmtree(self._payload_dir, ignore_errors=True)

    def _stop_workers(self) -> None:
        for worker in (self._judge, self._candidate, self._spare):
            if worker is not None:
                worker.kill()
        self._judge = self._candidate = self._spare = None

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _ensure_workers(self, device: str) -> None:
        if device != self._device:
            self._stop_workers()
            self._device = device
        if self._judge is None or not self._judge.alive:
            self._judge = WorkerProcess("judge", device, self._payload_dir)
        if self._candidate is None or not self._candidate.alive:
            self._candidate, self._spare = self._spare, None
            if self._candidate is None or not self._candidate.alive:
                self._candidate = WorkerProcess("candidate", device, self._payload_dir)
        if self.spare and (self._spare is None or not self._spare.alive):
            self._spare = WorkerProcess("candidate", device, self._payload_dir)

    def _replace_dead_or_tainted(self, evaluation: Evaluation) -> None:
        """A candidate that faulted, hung or ran failing kernel code is not trusted again: the spare takes over."""
        if self._candidate is not None and (evaluation.candidate_tainted or not self._candidate.alive):
            self._candidate.kill()
            self._candidate = None
        if self._judge is not None and (evaluation.judge_tainted or not self._judge.alive):
            self._judge.kill()
            self._judge = None
        self._ensure_workers(self._device)

    def _failure_message(self, exc: Exception, evaluation: Evaluation) -> Message:
        request, result = evaluation.request, evaluation.result
        phase = result.phase
        side = evaluation.waiting_on
        where = Location(result.custom.file, result.custom.forward_line or result.custom.class_line)
        if side == "judge":
            where = Location(result.ref.file, result.ref.forward_line or result.ref.class_line)
        if isinstance(exc, ChannelAborted):
            return Message(Severity.ERROR, phase, "cancelled", "evaluation cancelled", where)
        if isinstance(exc, ChannelTimeout):
            worker = self._judge if side == "judge" else self._candidate
            stuck_at = _innermost_frame(worker.stack_dump() if worker else "", where.file)
            where = stuck_at or where
            limit = request.build_timeout_s if phase in (Phase.LOAD, Phase.BUILD) else request.timeout_s
            what = "the build" if phase in (Phase.LOAD, Phase.BUILD) else "running the kernels"
            return Message(
                Severity.ERROR,
                phase,
                "timeout",
                f"{what} took longer than {limit:g} s; the {side} worker was stopped",
                where,
                hint="look for an endless loop or a kernel that never finishes (or raise the timeout)",
            )
        assert isinstance(exc, WorkerDied)
        worker = self._judge if side == "judge" else self._candidate
        if worker is not None and worker.hello is None:
            return _start_failure(worker, exc)
        return Message(
            Severity.ERROR,
            phase,
            "crash",
            f"{exc} during {phase.value} ({'reference' if side == 'judge' else 'custom'} side)",
            where,
            hint="the process died without a Python error: a segfault, a CUDA fault, os._exit or the OOM killer; "
            "see the captured output",
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
        "worker_start_failed",
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
