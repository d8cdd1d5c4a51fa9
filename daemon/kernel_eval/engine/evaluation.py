"""One evaluation walked through its stages by the parent: load → build → check → time.

The judge and candidate are asked over typed requests (kernel_eval.protocol). Whatever stops a request
(an error answer, a crash, a timeout, a cancel) ends the evaluation with a message that says where and why.
`Evaluation.run()` makes the one `EvalResult` and returns it: nothing is added to it afterwards.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

import attrs

from kernel_eval import import_line, preflight, source_info
from kernel_eval.engine import contention
from kernel_eval.engine.failures import Waiting, cancelled, failure_message, sandbox_notes
from kernel_eval.engine.processes import WorkerDied, WorkerError, WorkerProcess, WorkerTimeout
from kernel_eval.engine.timing_phase import Alone, TimingPhase
from kernel_eval.errors import EvalError, fail
from kernel_eval.kinds import FlagKind, MessageKind
from kernel_eval.progress import ProgressCallback, ProgressEvent
from kernel_eval.protocol.candidate import LoadParams, RunParams
from kernel_eval.protocol.channel import ChannelAborted
from kernel_eval.protocol.judge import CompareParams, MakeInputsParams, PrepareParams
from kernel_eval.protocol.messages import Hello, Params
from kernel_eval.protocol.timing import TimeParams
from kernel_eval.request import DEFAULT_DEVICE, EvalRequest
from kernel_eval.result import (
    Correctness,
    EvalResult,
    Flag,
    Location,
    Message,
    OutputComparison,
    Phase,
    Severity,
    TrialResult,
    Verdict,
)
from kernel_eval.stages import kernels
from kernel_eval.stages.trials import plan_trials

WORKER_START_TIMEOUT_S = 300.0
BUILD_LINES_PER_POLL = 20
"""Build output shown as progress: at most this many of the lines written since the last look."""
R = TypeVar("R")


@attrs.frozen
class Workers:
    """The two processes one evaluation asks: the judge (reference side) and the candidate (custom side)."""

    judge: WorkerProcess
    candidate: WorkerProcess


class Evaluation:
    """Drives one request. `run()` returns its result and never raises for anything the user's code does."""

    def __init__(
        self,
        request: EvalRequest,
        on_progress: ProgressCallback,
        cancel: threading.Event,
        notes: Sequence[Message] = (),
        time_limit_s: float = 0.0,
        started: float | None = None,
    ) -> None:
        self.started = time.monotonic() if started is None else started
        """When the evaluation began (its checks included): `duration_s` counts from here."""
        self.request = request
        self.on_progress, self.cancel = on_progress, cancel
        self.notes = list(notes)
        """What the caller knows that the result should say (a draft build's note): added at the end."""
        self.time_limit_s = time_limit_s
        """Wall clock for the whole evaluation, worker start and build included (0: none); a batch sets one."""
        self.workers: Workers | None = None
        self.candidate_tainted = False
        """It ran failing user code: replaced even though it answered."""
        self.judge_tainted = False
        self.result = EvalResult(
            verdict=Verdict.ERROR,
            phase=Phase.LOAD,
            ref=source_info.describe(request.ref_src, request.ref_entry_point),
            custom=source_info.describe(request.custom_src, request.custom_entry_point),
            device=request.device or DEFAULT_DEVICE,
            backend=source_info.detect_backend(request.custom_src),
        )
        self._deadline: float | None = None
        self._out_of_time = threading.Event()
        self._waiting_on: WorkerProcess | None = None
        self._phase_started = self.started
        self._spent: dict[str, float] = {}
        """Seconds by phase, as measured: rounded down into `phase_s` at the end, so they never add up to more
        than `duration_s`."""
        # a count that has risen by the time a worker dies of SIGKILL means out of memory
        self._oom_kills = import_line.oom_kills()

    @classmethod
    def of(
        cls,
        request: EvalRequest,
        on_progress: ProgressCallback,
        cancel: threading.Event,
        notes: Sequence[Message] = (),
        time_limit_s: float = 0.0,
    ) -> Evaluation | EvalResult:
        """The evaluation of `request`, or the result of one that fails its checks (preflight.py) and needs no
        worker."""
        started = time.monotonic()
        problems = preflight.check(request.custom_src, request.ref_src, request.device)
        if problems:
            return preflight.rejected(request, problems)
        request = attrs.evolve(
            request,
            ref_src=str(Path(request.ref_src).resolve()),
            custom_src=str(Path(request.custom_src).resolve()),
        )
        return cls(request, on_progress, cancel, notes, time_limit_s, started)

    def run(self, workers: Workers) -> EvalResult:
        self.workers = workers
        self._waiting_on = workers.judge
        limit = self.time_limit_s
        timer = threading.Timer(limit, self._out_of_time.set) if limit > 0 else None
        if timer is not None:
            timer.daemon = True
            timer.start()
        try:
            self._stages()
        except EvalError as error:
            self.result.messages.extend(error.messages)
        except (WorkerDied, WorkerTimeout, ChannelAborted) as exc:
            self.result.messages.append(failure_message(exc, self._waiting()))
        finally:
            if timer is not None:
                timer.cancel()
            self.result.captured_output = {
                "reference": workers.judge.take_output(),
                "custom": workers.candidate.take_output(),
            }
        self._clock_phase()
        self.result.messages.extend(self.notes)
        self._settle_verdict()
        self.result.phase_s = {
            phase: math.floor(seconds * 1e4) / 1e4 for phase, seconds in self._spent.items()
        }
        self.result.duration_s = round(time.monotonic() - self.started, 4)
        return self.result

    def _settle_verdict(self) -> None:
        """An evaluation that failed is an error, or cancelled when it was stopped. So is one whose cancel came
        after its last answer: it was not wanted any more."""
        result = self.result
        if self.cancel.is_set() and not any(m.kind == MessageKind.CANCELLED for m in result.errors):
            result.messages.append(cancelled(result.phase))
        if result.errors:
            stopped = any(message.kind == MessageKind.CANCELLED for message in result.errors)
            result.verdict = Verdict.CANCELLED if stopped else Verdict.ERROR

    def _waiting(self) -> Waiting:
        assert self._waiting_on is not None
        return Waiting(
            worker=self._waiting_on,
            phase=self.result.phase,
            ref=self.result.ref,
            custom=self.result.custom,
            build_timeout_s=self.request.build_timeout_s,
            timeout_s=self.request.timeout_s,
            out_of_time_s=self.time_limit_s if self._out_of_time.is_set() else None,
            oom_kills_before=self._oom_kills,
        )

    def _clock_phase(self) -> None:
        """Charge the time since the last progress report to the phase it reported."""
        now = time.monotonic()
        if self.result.phase is not Phase.DONE:
            key = self.result.phase.value
            self._spent[key] = self._spent.get(key, 0.0) + now - self._phase_started
        self._phase_started = now

    def _stages(self) -> None:
        request, result = self.request, self.result
        self.progress(Phase.LOAD, "starting workers")
        self._start_workers()
        self.progress(Phase.LOAD, f"loading reference {result.ref.file}")
        prepared = self._ask(
            self._judge,
            PrepareParams(request.ref_src, request.ref_entry_point, request.seed),
            request.build_timeout_s,
        )
        self.progress(Phase.BUILD, f"building {result.custom.file}")
        loaded = self._ask(
            self._candidate,
            LoadParams(
                custom_src=request.custom_src,
                entry_point=request.custom_entry_point,
                seed=request.seed,
                init=prepared.init,
                backend=result.backend,
                build_dir_prefix=request.build_dir_prefix,
                clear_cache=request.clear_cache,
            ),
            request.build_timeout_s,
            on_output=self._show_build_output,
        )
        result.cache_dir = loaded.cache_dir
        result.messages.extend(loaded.notes)
        self._deadline = time.monotonic() + request.timeout_s
        result.sandbox = loaded.sandbox or result.sandbox
        correct = self._check_correctness()
        self._reference_unchanged(prepared.ref_sha256)
        if not correct:
            result.verdict = Verdict.INCORRECT
            return
        if request.measure_performance:
            self._measure()
            self._reference_unchanged(prepared.ref_sha256)
        self._clock_phase()
        result.phase = Phase.DONE
        result.verdict = Verdict.CORRECT

    @property
    def _judge(self) -> WorkerProcess:
        assert self.workers is not None
        return self.workers.judge

    @property
    def _candidate(self) -> WorkerProcess:
        assert self.workers is not None
        return self.workers.candidate

    def _start_workers(self) -> None:
        hello = self._wait_ready(self._judge)
        result = self.result
        result.sandbox = self._wait_ready(self._candidate).sandbox
        result.messages.extend(sandbox_notes(result.sandbox))
        result.torch_version = hello.torch_version
        result.gpu_name = hello.gpu_name
        if hello.device != result.device:
            if self.request.device:  # asked for CUDA explicitly ("" takes whatever is there)
                result.messages.append(
                    Message(
                        Severity.INFO,
                        Phase.LOAD,
                        MessageKind.DEVICE,
                        f"CUDA is not available here; evaluated on the CPU instead of {result.device} "
                        "(Triton kernels run in the interpreter)",
                    )
                )
            result.device = hello.device

    def _reference_unchanged(self, loaded_sha256: str) -> None:
        """No verdict on a reference that changed while it was judged (the custom code may have rewritten it)."""
        path = self.request.ref_src
        try:
            now = hashlib.sha256(Path(path).read_bytes()).hexdigest()
        except OSError as exc:
            now = f"unreadable ({exc.strerror})"
        if loaded_sha256 and now != loaded_sha256:
            raise fail(
                Phase.CHECK,
                MessageKind.REFERENCE_CHANGED,
                f"{Path(path).name} changed during the evaluation: no verdict on a reference that moved",
                Location(path, 1),
                hint="something rewrote the reference while it was judged (the custom code, under --sandbox off?); "
                "restore it and evaluate again",
            )

    def _wait_ready(self, worker: WorkerProcess) -> Hello:
        self._waiting_on = worker
        return worker.wait_ready(WORKER_START_TIMEOUT_S, self._should_abort)

    def _check_correctness(self) -> bool:
        """All trials in three round trips: inputs from the judge, outputs from the candidate, the judge's verdict.

        At least two trials on seeds derived from the request and one on a secret seed (stages/trials.py).
        """
        request, result = self.request, self.result
        plan = plan_trials(request.seed, request.num_correct_trials)
        seeds = [trial.seed for trial in plan]
        secret = [trial.seed for trial in plan if trial.secret]
        correctness = result.correctness = Correctness(num_trials=len(plan), num_secret_trials=len(secret))
        self.progress(Phase.CHECK, f"correctness: {len(seeds)} trials ({len(secret)} on a secret seed)")
        made = self.ask_judge(MakeInputsParams(seeds, once=secret))
        result.messages.extend(made.notes)
        ran = self.ask_candidate(RunParams(made.inputs))
        judged = self.ask_judge(
            CompareParams(seeds[: len(ran.outputs)], ran.outputs, request.atol, request.rtol, forget=secret)
        )
        result.flags.extend(judged.flags)
        self._kernels(made.kernels, ran.kernels)
        for planned, comparisons in zip(plan, judged.trials, strict=False):
            passed = all(c.passed for c in comparisons)
            correctness.trials.append(
                TrialResult(planned.index, planned.seed, passed, comparisons, planned.secret)
            )
            if not passed:
                return False
            correctness.num_passed += 1
        if ran.rejected:
            rejected = plan[len(ran.outputs)]
            failure = OutputComparison("output", False, reason="type", detail=ran.rejected)
            correctness.trials.append(
                TrialResult(rejected.index, rejected.seed, False, [failure], rejected.secret)
            )
            result.flags.append(
                Flag(FlagKind.OUTPUT_SUBCLASS, ran.rejected, Severity.ERROR, self._forward_location())
            )
            return False
        return True

    def _kernels(self, reference: list[str] | None, custom: list[str] | None) -> None:
        """Which GPU kernels each side launched (CUDA only), and a warning when none was the custom side's own."""
        if reference is None or custom is None:
            return
        self.result.kernels = {"reference": reference, "custom": custom}
        declared = kernels.declared_kernels(source_info.read_text(self.request.custom_src))
        flag = kernels.no_custom_kernel_flag(kernels.analyze(reference, custom, declared))
        if flag is not None:
            flag.location = self._forward_location()
            self.result.flags.append(flag)

    def _forward_location(self) -> Location:
        custom = self.result.custom
        return Location(custom.file, custom.forward_line or custom.class_line)

    def _measure(self) -> None:
        result = self.result
        phase = TimingPhase(
            self.request, result.device.startswith("cuda"), self, {flag.kind for flag in result.flags}
        )
        try:
            phase.run()
        finally:
            measured = phase.measured
            result.timing = measured.timing or result.timing
            result.flags.extend(measured.flags)
            result.messages.extend(measured.messages)
        if measured.taints_candidate or result.blocking_flags:
            self.candidate_tainted = True

    def ask_judge(self, params: Params[R]) -> R:
        return self._ask(self._judge, params, self._remaining())

    def ask_candidate(self, params: Params[R]) -> R:
        return self._ask(self._candidate, params, self._remaining())

    def ask_judge_alone(self, params: Params[R], waits: bool = False) -> Alone[R]:
        """The reference is timed with the candidate stopped: nothing the custom module left running (a native
        thread, a child process) slows the reference and so inflates the speedup."""
        return self._alone(self._judge, self._candidate, self.ask_judge, params, waits)

    def ask_candidate_alone(self, params: Params[R], waits: bool = False) -> Alone[R]:
        """The custom side is timed with the judge stopped, as the reference is with the candidate stopped: each
        side is timed with the machine to itself, not beside the other's threads winding down."""
        return self._alone(self._candidate, self._judge, self.ask_candidate, params, waits)

    @staticmethod
    def _alone(
        timed: WorkerProcess,
        other: WorkerProcess,
        ask: Callable[[Params[R]], R],
        params: Params[R],
        waits: bool,
    ) -> Alone[R]:
        with other.stopped():
            if not waits:
                return Alone(ask(params))
            before = contention.read(timed.pid)
            reply = ask(params)
            return Alone(reply, contention.read(timed.pid).taken_share_since(before))

    def _remaining(self) -> float:
        assert self._deadline is not None
        return max(self._deadline - time.monotonic(), 0.001)

    def _ask(
        self,
        worker: WorkerProcess,
        params: Params[R],
        timeout: float,
        on_output: Callable[[list[str]], None] | None = None,
    ) -> R:
        self._waiting_on = worker
        runs_user_code = worker is self._candidate and params.METHOD in (RunParams.METHOD, TimeParams.METHOD)
        try:
            return worker.request(params, timeout, self._should_abort, on_output)
        except WorkerError as error:
            if runs_user_code:
                self.candidate_tainted = True
            if worker is self._judge and params.METHOD != PrepareParams.METHOD:
                self.judge_tainted = True
            raise EvalError(*error.messages) from None

    def _should_abort(self) -> bool:
        return self.cancel.is_set() or self._out_of_time.is_set()

    def _show_build_output(self, lines: list[str]) -> None:
        for line in lines[-BUILD_LINES_PER_POLL:]:
            self.progress(Phase.BUILD, f"build: {line[:200]}")

    def progress(self, phase: Phase, message: str) -> None:
        self._clock_phase()
        self.result.phase = phase
        self.on_progress(ProgressEvent(phase, message))
