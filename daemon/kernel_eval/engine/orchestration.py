"""One evaluation walked through its stages by the parent: load → build → check → time.

The judge and candidate are asked over typed requests (kernel_eval.protocol); whatever stops a request
(an error answer, a crash, a timeout, a cancel) ends the evaluation with a message that says where and why.
"""

from __future__ import annotations

import hashlib
import re
import signal
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import TypeVar

from kernel_eval import import_line, source_info
from kernel_eval.engine.processes import WorkerDied, WorkerError, WorkerProcess, WorkerTimeout
from kernel_eval.errors import EvalError, fail
from kernel_eval.progress import ProgressCallback, ProgressEvent
from kernel_eval.protocol.candidate import CandidateTimeParams, CandidateTimeResult, LoadParams, RunParams
from kernel_eval.protocol.channel import ChannelAborted
from kernel_eval.protocol.judge import (
    CompareParams,
    JudgeTimeParams,
    JudgeTimeResult,
    MakeInputsParams,
    PrepareParams,
)
from kernel_eval.protocol.messages import Hello, Params
from kernel_eval.protocol.timing import TimeParams
from kernel_eval.request import EvalRequest
from kernel_eval.result import (
    Correctness,
    EvalResult,
    Flag,
    Location,
    Message,
    OutputComparison,
    Phase,
    ProtectionState,
    SandboxMode,
    SandboxRecord,
    Severity,
    TrialResult,
    Verdict,
)
from kernel_eval.stages import kernels, timing
from kernel_eval.stages.timing import fresh
from kernel_eval.stages.timing.record import Round, SideRecord
from kernel_eval.stages.trials import plan_trials, secret_seeds

WORKER_START_TIMEOUT_S = 300.0
ROTATED_SETS = 3  # input sets whose values rotate through the timed calls
TIMING_SEEDS_FROM = 1001  # past the correctness trials' seeds (seed + 1 …), so timing sets are fresh
R = TypeVar("R")


def _figures(side: SideRecord, on_gpu: bool) -> dict[str, list[float]]:
    """A side's samples by the figure names fresh.py reads."""
    return {"gpu_kernel_time": side.gpu_ms or []} if on_gpu else {"cpu": side.end_to_end_ms}


class Evaluation:
    """Drives one request; `run()` fills `result` and never raises for anything the user's code does."""

    def __init__(
        self,
        request: EvalRequest,
        result: EvalResult,
        judge: WorkerProcess,
        candidate: WorkerProcess,
        on_progress: ProgressCallback,
        cancel: threading.Event,
    ) -> None:
        self.request, self.result = request, result
        self.judge, self.candidate = judge, candidate
        self.on_progress, self.cancel = on_progress, cancel
        self.candidate_tainted = False  # ran failing user code: replaced even though it answered
        self.judge_tainted = False
        self._deadline: float | None = None
        self._streaming = False
        self._waiting_on = judge  # the worker whose answer is awaited: the one to blame if none comes
        self._phase_started = time.monotonic()
        # a count that has risen by the time a worker dies of SIGKILL means out of memory
        self._oom_kills = import_line.oom_kills()

    def run(self) -> None:
        try:
            self._stages()
        except EvalError as error:
            self.result.messages.extend(error.messages)
        except (WorkerDied, WorkerTimeout, ChannelAborted) as exc:
            self.result.messages.append(self._failure_message(exc))
        self._clock_phase()
        if self.result.errors:
            cancelled = any(message.kind == "cancelled" for message in self.result.errors)
            self.result.verdict = Verdict.CANCELLED if cancelled else Verdict.ERROR

    def _clock_phase(self) -> None:
        """Charge the time since the last progress report to the phase it reported."""
        now = time.monotonic()
        if self.result.phase is not Phase.DONE:
            spent, key = self.result.phase_s, self.result.phase.value
            spent[key] = round(spent.get(key, 0.0) + now - self._phase_started, 4)
        self._phase_started = now

    def _stages(self) -> None:
        request, result = self.request, self.result
        self._progress(Phase.LOAD, "starting workers")
        self._start_workers()
        self._progress(Phase.LOAD, f"loading reference {result.ref.file}")
        prepared = self._ask(
            self.judge,
            PrepareParams(request.ref_src, request.ref_entry_point, request.seed),
            request.build_timeout_s,
        )
        self._progress(Phase.BUILD, f"building {result.custom.file}")
        self._streaming = True
        loaded = self._ask(
            self.candidate,
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
        )
        self._streaming = False
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

    def _start_workers(self) -> None:
        hello = self._wait_ready(self.judge)
        result = self.result
        result.sandbox = self._wait_ready(self.candidate).sandbox
        result.messages.extend(sandbox_notes(result.sandbox))
        result.torch_version = hello.torch_version
        result.gpu_name = hello.gpu_name
        if hello.device != result.device:
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
                "reference_changed",
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
        self._progress(Phase.CHECK, f"correctness: {len(seeds)} trials ({len(secret)} on a secret seed)")
        made = self._ask(self.judge, MakeInputsParams(seeds, once=secret), self._remaining())
        result.messages.extend(made.notes)
        ran = self._ask(self.candidate, RunParams(made.inputs), self._remaining())
        judged = self._ask(
            self.judge,
            CompareParams(seeds[: len(ran.outputs)], ran.outputs, request.atol, request.rtol, forget=secret),
            self._remaining(),
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
                Flag("output_subclass", ran.rejected, Severity.ERROR, self._forward_location())
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
        """Judge round, candidate round, … until the stop rule says stop (sampling.py), then one Timing. Both sides
        rotate the values of the same input sets through their timed calls; the outputs the candidate made while
        timing are checked by the judge afterwards."""
        request, result = self.request, self.result
        trials, raised = timing.effective_trials(request.num_perf_trials)
        if raised:
            result.messages.append(Message(Severity.INFO, Phase.TIME, "timing", raised))
        seeds = [request.seed + 1] + [request.seed + TIMING_SEEDS_FROM + i for i in range(ROTATED_SETS - 1)]
        self._progress(Phase.TIME, "timing: making fresh inputs")
        inputs = self._ask(self.judge, MakeInputsParams(seeds), self._remaining()).inputs
        replies: dict[str, JudgeTimeResult] = {}

        def reference_round(count: int, first: bool) -> Round:
            self._progress(Phase.TIME, f"timing reference ({count} samples)")
            params = JudgeTimeParams(count, request.num_warmup if first else 0, seeds=seeds)
            replies["reference"] = self._ask(self.judge, params, self._remaining())
            return replies["reference"].measured

        def custom_round(count: int, first: bool) -> Round:
            self._progress(Phase.TIME, f"timing custom ({count} samples)")
            params = CandidateTimeParams(count, request.num_warmup if first else 0, inputs=inputs)
            started = time.monotonic()
            measured = self._ask(self.candidate, params, self._remaining()).measured
            return self._checked(measured, time.monotonic() - started)

        reference, custom, reason = timing.interleave(
            reference_round, custom_round, timing.StopRule(min_trials=trials)
        )
        ref_reply = replies["reference"]
        earlier = fresh.Earlier(
            {
                figure: statistics.median(ms)
                for figure, ms in _figures(custom, ref_reply.meaningful).items()
                if ms
            },
            statistics.median(reference.headline_ms) if reference.headline_ms else 0.0,
        )
        fresh_started = time.monotonic()
        kept, found = self._fresh_round(seeds, inputs, ref_reply.bytes_moved, earlier)
        confirmed = None
        if found is not None:  # an honest kernel stalled once is not accused: the same again on new values
            _, confirmed = self._fresh_round(seeds, inputs, ref_reply.bytes_moved, earlier)
        result.timing, flags = timing.assemble(
            reference,
            custom,
            ref_reply.meaningful,
            reason,
            timing.Bytes(ref_reply.bytes_moved, kept.bytes_moved, ref_reply.copy_bandwidth),
            tampered=kept.tampered,
            l2_persistence=kept.l2_persistence,
            threads=kept.threads,
        )
        result.flags.extend(flags)
        result.timing.fresh_values_s = round(time.monotonic() - fresh_started, 4)
        if found is not None and confirmed is not None:
            result.flags.append(Flag("faster_on_seen_values", fresh.message(found, confirmed)))
            result.timing.method += "; faster on values it had seen: speedup not valid"
        if kept.tampered or kept.threads or result.blocking_flags:
            # what it changed (clocks, modes, threads) outlives the module: the next evaluation gets a fresh worker
            self.candidate_tainted = True
        if not result.timing.meaningful:
            result.messages.append(Message(Severity.INFO, Phase.TIME, "timing", timing.CPU_TIMING_CAVEAT))

    def _fresh_round(
        self, seeds: list[int], inputs: list[str], set_bytes: int, earlier: fresh.Earlier
    ) -> tuple[CandidateTimeResult, fresh.Finding | None]:
        """The candidate's last round: its rotated sets with sets drawn for this round alone mixed in (fresh.py),
        every output kept and checked by the judge. Returns the reply and what its times say."""
        loops = 2 if self.result.device.startswith("cuda") else 1
        count = fresh.fresh_per_loop(set_bytes, loops) * loops
        fresh_seeds = secret_seeds(count)
        self._progress(Phase.TIME, f"timing custom on {count} fresh input sets")
        made = self._ask(self.judge, MakeInputsParams(fresh_seeds, once=fresh_seeds), self._remaining())
        params = CandidateTimeParams(0, inputs=inputs, keep=True, fresh=made.inputs)
        started = time.monotonic()
        reply = self._ask(self.candidate, params, self._remaining())
        self._checked(reply.measured, time.monotonic() - started)
        self.result.flags.extend(
            flag
            for flag in self._recheck(seeds, fresh_seeds, reply)
            if flag.kind not in {f.kind for f in self.result.flags}
        )
        found = fresh.finding(reply.fresh, earlier) if reply.fresh is not None else None
        return reply, found

    def _recheck(self, seeds: list[int], fresh_seeds: list[int], reply: CandidateTimeResult) -> list[Flag]:
        """The outputs made while timing (several per rotated set: one per timed loop; one per fresh set), against
        the reference's on the same inputs."""
        request = self.request
        every = seeds + fresh_seeds
        made_on = [every[index] for index in reply.kept_sets]
        judged = self._ask(
            self.judge,
            CompareParams(made_on, reply.kept, request.atol, request.rtol, forget=fresh_seeds),
            self._remaining(),
        )
        wrong = [
            seed
            for seed, leaves in zip(made_on, judged.trials, strict=True)
            if not all(c.passed for c in leaves)
        ]
        refused = [flag for flag in judged.flags if flag.kind == "output_subclass"][:1]
        if not wrong:
            return []
        on_fresh = sum(seed in fresh_seeds for seed in wrong)
        of_them = f", {on_fresh} of them on input sets drawn fresh for the timing" if on_fresh else ""
        return [
            *refused,
            Flag(
                "remembered_result",
                f"while being timed, the custom forward returned outputs that differ from the reference's on the "
                f"same inputs: {len(wrong)} of the {len(made_on)} outputs checked{of_them}; it returns a remembered "
                "result instead of computing on the values it is given",
            ),
        ]

    def _checked(self, measured: Round, wall_s: float) -> Round:
        """The candidate reports its own times; its end-to-end times cannot add up to more than the wall time we saw
        (kernel times can: kernels on several streams overlap)."""
        reported = sum(measured.end_to_end_ms)
        if reported > wall_s * 1000.0 * 1.05 + 1.0:
            raise EvalError(
                Message(
                    Severity.ERROR,
                    Phase.TIME,
                    "timing_inconsistent",
                    f"the custom side reported {reported:.1f} ms of kernel time in {wall_s * 1000:.1f} ms of wall time",
                )
            )
        return measured

    def _remaining(self) -> float:
        assert self._deadline is not None
        return max(self._deadline - time.monotonic(), 0.001)

    def _ask(self, worker: WorkerProcess, params: Params[R], timeout: float) -> R:
        self._waiting_on = worker
        runs_user_code = worker is self.candidate and params.METHOD in (RunParams.METHOD, TimeParams.METHOD)
        try:
            return worker.request(params, timeout, self._should_abort)
        except WorkerError as error:
            if runs_user_code:
                self.candidate_tainted = True
            if worker is self.judge and params.METHOD != PrepareParams.METHOD:
                self.judge_tainted = True
            raise EvalError(*error.messages) from None

    def _should_abort(self) -> bool:
        if self._streaming:
            for line in self.candidate.new_lines()[-20:]:
                self._progress(Phase.BUILD, f"build: {line[:200]}")
        return self.cancel.is_set()

    def _progress(self, phase: Phase, message: str, percentage: int | None = None) -> None:
        self._clock_phase()
        self.result.phase = phase
        self.on_progress(ProgressEvent(phase, message, percentage))

    def _failure_message(self, exc: Exception) -> Message:
        """What the user reads when a worker did not answer: cancelled, timed out (and where), or crashed."""
        request, result = self.request, self.result
        phase = result.phase
        worker = self._waiting_on
        side = worker.role
        source = result.ref if side == "judge" else result.custom
        where = Location(source.file, source.forward_line or source.class_line)
        if isinstance(exc, ChannelAborted):
            return Message(Severity.ERROR, phase, "cancelled", "evaluation cancelled", where)
        if isinstance(exc, WorkerTimeout):
            where = _innermost_frame(exc.stack, where.file) or where
            building = phase in (Phase.LOAD, Phase.BUILD)
            limit = request.build_timeout_s if building else request.timeout_s
            what = "the build" if building else "running the kernels"
            return Message(
                Severity.ERROR,
                phase,
                "timeout",
                f"{what} took longer than {limit:g} s; the {side} worker was stopped",
                where,
                hint="look for an endless loop or a kernel that never finishes (or raise the timeout)",
            )
        assert isinstance(exc, WorkerDied)
        if worker.hello is None:
            return _start_failure(worker, exc)
        died = self._died_importing_or_oom(exc, worker, where)
        if died is not None:
            return died
        return Message(
            Severity.ERROR,
            phase,
            "crash",
            f"{exc} during {phase.value} ({'reference' if side == 'judge' else 'custom'} side)",
            where,
            hint="the process died without a Python error: a segfault, a CUDA fault, os._exit or the OOM killer; "
            "see the captured output",
        )

    def _died_importing_or_oom(
        self, exc: WorkerDied, worker: WorkerProcess, where: Location
    ) -> Message | None:
        """A worker that died while importing the user's file (told at the line it was running), or that the OOM
        killer killed; None for any other death."""
        phase = self.result.phase
        what = "reference" if worker.role == "judge" else "custom"
        importing = import_line.last_line(worker.workdir) if phase in (Phase.LOAD, Phase.BUILD) else 0
        where = Location(where.file, importing) if importing else where
        running = (
            f"while importing line {importing} of the {what} file" if importing else f"during {phase.value}"
        )
        if exc.returncode == -signal.SIGKILL and import_line.oom_kills() > self._oom_kills:
            return Message(
                Severity.ERROR,
                phase,
                "out_of_memory",
                f"out of memory: the kernel's OOM killer killed the {what} side's process {running}",
                where,
                hint="the machine ran out of memory: allocate less here (check the sizes), or free memory first",
            )
        if not importing:
            return None
        return Message(
            Severity.ERROR,
            phase,
            "crash",
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


def sandbox_notes(record: SandboxRecord) -> list[Message]:
    """A warning when the custom code ran unconfined; a note for each protection the host cannot give."""
    if record.mode is SandboxMode.OFF:
        return [
            Message(
                Severity.WARNING,
                Phase.LOAD,
                "sandbox_off",
                "the sandbox is off: the custom code ran with all of your user's rights (files, network, secrets)",
                hint="drop --sandbox off (or kernelEval.sandbox: off) unless you trust this file",
            )
        ]
    return [
        Message(Severity.INFO, Phase.LOAD, "sandbox", f"sandbox: {p.name} unavailable here: {p.detail}")
        for p in record.protections
        if p.state is ProtectionState.UNAVAILABLE
    ]
