"""One evaluation walked through its stages by the parent: load → build → check → time."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from kernel_eval.engine.processes import WorkerProcess
from kernel_eval.errors import EvalError
from kernel_eval.progress import ProgressCallback, ProgressEvent
from kernel_eval.request import EvalRequest
from kernel_eval.result import (
    Backend,
    Correctness,
    EvalResult,
    Message,
    OutputComparison,
    Phase,
    Severity,
    Timing,
    TrialResult,
    Verdict,
    from_data,
)
from kernel_eval.stages import timing

WORKER_START_TIMEOUT_S = 300.0


class Evaluation:
    def __init__(
        self,
        request: EvalRequest,
        result: EvalResult,
        judge: WorkerProcess,
        candidate: WorkerProcess,
        on_progress: ProgressCallback,
        is_cancelled: Callable[[], bool],
    ) -> None:
        self.request, self.result = request, result
        self.judge, self.candidate = judge, candidate
        self.on_progress, self.is_cancelled = on_progress, is_cancelled
        self.waiting_on = "judge"
        self.candidate_tainted = False
        self.judge_tainted = False
        self.deadline: float | None = None
        self._streaming = False
        self.timing_inputs = ""  # both sides are timed on the first trial's inputs

    def run(self) -> None:
        request, result = self.request, self.result
        self._progress(Phase.LOAD, "starting workers")
        self._start_workers()
        self._progress(Phase.LOAD, f"loading reference {result.ref.file}")
        prepared = self._call(
            self.judge,
            "prepare",
            {"ref_src": request.ref_src, "entry_point": request.ref_entry_point, "seed": request.seed},
            timeout=request.build_timeout_s,
        )
        self._progress(Phase.BUILD, f"building {result.custom.file}")
        self._streaming = True
        reply = self._call(
            self.candidate,
            "load",
            {
                "custom_src": request.custom_src,
                "entry_point": request.custom_entry_point,
                "seed": request.seed,
                "build_dir_prefix": request.build_dir_prefix,
                "clear_cache": request.clear_cache,
                "init": prepared["init"],
            },
            timeout=request.build_timeout_s,
        )
        self._streaming = False
        result.backend = Backend(reply["backend"])
        result.cache_dir = reply["cache_dir"]
        result.messages.extend(from_data(n, Message) for n in reply["notes"])
        self.deadline = time.monotonic() + request.timeout_s
        if not self._check_correctness():
            result.verdict = Verdict.INCORRECT
            return
        if request.measure_performance:
            self._measure()
        result.phase = Phase.DONE
        result.verdict = Verdict.CORRECT

    def _start_workers(self) -> None:
        hello = self._wait_ready(self.judge)
        self._wait_ready(self.candidate)
        result = self.result
        result.torch_version = hello["torch_version"]
        result.gpu_name = hello["gpu_name"]
        if hello["device"] != result.device:
            if self.request.device:  # asked for CUDA explicitly ("" takes whatever is there)
                result.messages.append(
                    Message(
                        Severity.INFO,
                        Phase.LOAD,
                        "device",
                        f"CUDA is not available here; evaluated on the CPU instead of {result.device} "
                        "(Triton kernels run in the interpreter)",
                    )
                )
            result.device = hello["device"]

    def _wait_ready(self, worker: WorkerProcess) -> dict[str, Any]:
        self.waiting_on = worker.role
        return worker.wait_ready(WORKER_START_TIMEOUT_S, self.is_cancelled)

    def _check_correctness(self) -> bool:
        request, result = self.request, self.result
        correctness = result.correctness = Correctness(num_trials=request.num_correct_trials)
        for trial in range(request.num_correct_trials):
            seed = request.seed + 1 + trial
            self._progress(
                Phase.CHECK,
                f"correctness trial {trial + 1}/{request.num_correct_trials}",
                int(100 * trial / max(request.num_correct_trials, 1)),
            )
            made = self._call(self.judge, "trial", {"seed": seed}, timeout=self._remaining())
            self.timing_inputs = self.timing_inputs or made["inputs"]
            ran = self._call(self.candidate, "run", {"inputs": made["inputs"]}, timeout=self._remaining())
            reply = self._call(
                self.judge,
                "compare",
                {"seed": seed, "outputs": ran["outputs"], "atol": request.atol, "rtol": request.rtol},
                timeout=self._remaining(),
            )
            comparisons = [from_data(c, OutputComparison) for c in reply["outputs"]]
            passed = all(c.passed for c in comparisons)
            correctness.trials.append(TrialResult(trial, seed, passed, comparisons))
            if not passed:
                return False
            correctness.num_passed += 1
        return True

    def _measure(self) -> None:
        request, result = self.request, self.result
        trials, raised = timing.effective_trials(request.num_perf_trials)
        if raised:
            result.messages.append(Message(Severity.INFO, Phase.TIME, "timing", raised))
        args = {"warmup": request.num_warmup, "trials": trials, "seed": request.seed + 1}
        self._progress(Phase.TIME, "timing reference")
        ref_reply = self._call(self.judge, "time", args, timeout=self._remaining())
        self._progress(Phase.TIME, "timing custom")
        started = time.monotonic()
        custom_args = {**args, "inputs": self.timing_inputs}
        custom_reply = self._call(self.candidate, "time", custom_args, timeout=self._remaining())
        custom_times = self._checked_times(custom_reply["times_ms"], time.monotonic() - started)
        reference = timing.summarize(ref_reply["times_ms"])
        custom = timing.summarize(custom_times)
        result.timing = Timing(
            reference=reference,
            custom=custom,
            speedup=timing.speedup(reference, custom),
            method=ref_reply["method"],
            meaningful=ref_reply["meaningful"],
            warmup=request.num_warmup,
        )
        if not result.timing.meaningful:
            result.messages.append(
                Message(
                    Severity.INFO,
                    Phase.TIME,
                    "timing",
                    "CPU timings (eager CPU / Triton interpreter) are not meaningful for GPU kernels",
                )
            )

    def _checked_times(self, times: list[float], wall_s: float) -> list[float]:
        """The candidate reports its own times; they cannot add up to more than the wall time we saw."""
        if sum(times) > wall_s * 1000.0 * 1.05 + 1.0:
            raise EvalError(
                Message(
                    Severity.ERROR,
                    Phase.TIME,
                    "timing_inconsistent",
                    f"the custom side reported {sum(times):.1f} ms of kernel time in {wall_s * 1000:.1f} ms of wall time",
                )
            )
        return times

    def _remaining(self) -> float:
        assert self.deadline is not None
        return max(self.deadline - time.monotonic(), 0.001)

    def _call(
        self,
        worker: WorkerProcess,
        op: str,
        args: dict[str, Any],
        timeout: float | None = None,
    ) -> dict[str, Any]:
        self.waiting_on = worker.role
        if worker is self.candidate and op in ("run", "time"):
            self.candidate_tainted = True  # until it answers cleanly: a hang or crash leaves it untrusted
        reply = worker.call(op, args, timeout, self._should_abort)
        if not reply.get("ok"):
            messages = [from_data(m, Message) for m in reply["messages"]]
            if worker is self.judge and op != "prepare":
                self.judge_tainted = True
            raise EvalError(*messages)
        if worker is self.candidate and op in ("run", "time"):
            self.candidate_tainted = False
        return reply

    def _should_abort(self) -> bool:
        if self._streaming:
            for line in self.candidate.new_lines()[-20:]:
                self._progress(Phase.BUILD, f"build: {line[:200]}")
        return self.is_cancelled()

    def _progress(self, phase: Phase, message: str, percentage: int | None = None) -> None:
        self.result.phase = phase
        self.on_progress(ProgressEvent(phase, message, percentage))
