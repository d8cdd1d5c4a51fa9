"""engine/timing_phase.py: what the time stage makes of the rounds with fresh values, on both kinds of device, with
the workers replaced by scripted replies (the real workers: tests/exploits/test_catalogue.py)."""

from __future__ import annotations

import random
import time
from typing import Any

import attrs
import pytest

from kernel_eval.engine.timing_phase import Alone, TimingPhase
from kernel_eval.kinds import FlagKind
from kernel_eval.protocol.candidate import CandidateTimeParams, CandidateTimeResult
from kernel_eval.protocol.judge import (
    CompareParams,
    CompareResult,
    JudgeTimeParams,
    JudgeTimeResult,
    MakeInputsParams,
    MakeInputsResult,
)
from kernel_eval.request import EvalRequest
from kernel_eval.result import OutputComparison, Phase, Severity
from kernel_eval.stages.timing import fresh
from kernel_eval.stages.timing.record import Round

REFERENCE_MS = 1.0


@attrs.define
class Script:
    """The custom side's call times (ms): in the plain rounds, and in the rounds with fresh values on seen and on
    fresh values; and the share of the time the rounds beside waited for a CPU other work held."""

    plain: float
    seen: float
    new: float
    waited: float = 0.0
    first_seen: float | None = None
    """On seen values in the first round with fresh values, when not `seen` (a stall)."""


class Workers:
    """Both workers as the time stage reaches them, answering from a script (with a little jitter, as real times)."""

    def __init__(self, script: Script, gpu: bool) -> None:
        self.script, self.gpu = script, gpu
        self.rng = random.Random(7)
        self.fresh_rounds = 0

    def ask_judge(self, params: Any) -> Any:
        if isinstance(params, MakeInputsParams):
            return MakeInputsResult([f"set {seed}" for seed in params.seeds])
        assert isinstance(params, CompareParams)
        return CompareResult([[OutputComparison("output", True)] for _ in params.seeds])

    def ask_candidate(self, params: Any) -> Any:
        raise AssertionError("the custom side is timed alone")

    def ask_judge_alone(self, params: Any, waits: bool = False) -> Alone[Any]:
        assert isinstance(params, JudgeTimeParams)
        measured, times = self._round(
            params.count, REFERENCE_MS, REFERENCE_MS, REFERENCE_MS, bool(params.fresh)
        )
        reply = JudgeTimeResult(measured, fresh=times, meaningful=self.gpu)
        return Alone(reply, self.script.waited if waits else 0.0)

    def ask_candidate_alone(self, params: Any, waits: bool = False) -> Alone[Any]:
        assert isinstance(params, CandidateTimeParams)
        s = self.script
        seen = s.first_seen if s.first_seen is not None and params.fresh and not self.fresh_rounds else s.seen
        self.fresh_rounds += bool(params.fresh)
        measured, times = self._round(params.count, s.plain, seen, s.new, bool(params.fresh))
        time.sleep(sum(measured.end_to_end_ms) / 1e3)  # the parent checks the times against the wall clock
        kept = len(params.fresh)
        reply = CandidateTimeResult(
            measured, fresh=times, kept=["output"] * kept, kept_sets=list(range(3, 3 + kept))
        )
        return Alone(reply, s.waited if waits else 0.0)

    def progress(self, phase: Phase, message: str) -> None:
        pass

    def _round(
        self, count: int, plain: float, seen: float, new: float, with_fresh: bool
    ) -> tuple[Round, fresh.FreshTimes | None]:
        if not with_fresh:
            return self._measured([self._jitter(plain) for _ in range(count)]), None
        loops = 2 if self.gpu else 1
        per_loop = fresh.FRESH_PER_ROUND // loops
        splits = [
            fresh.LoopSplit(
                "gpu_kernel_time" if self.gpu else "cpu",
                [self._jitter(seen) for _ in range(fresh.CALLS_PER_LOOP - per_loop)],
                [self._jitter(new) for _ in range(per_loop)],
            )
            for _ in range(loops)
        ]
        every = [ms for split in splits for ms in split.seen_ms + split.fresh_ms]
        return self._measured(every), fresh.FreshTimes(splits, [0.01] * len(every))

    def _measured(self, times: list[float]) -> Round:
        if self.gpu:
            return Round(
                [ms + 0.01 for ms in times], list(times), sum(times) / 1e3, gap_ms=[0.01] * len(times)
            )
        return Round(list(times), None, sum(times) / 1e3, gap_ms=[0.01] * len(times))

    def _jitter(self, ms: float) -> float:
        return ms * self.rng.uniform(0.99, 1.01)


def timed(script: Script, gpu: bool) -> Any:
    request = EvalRequest("ref.py", "new.py", device="cuda:0" if gpu else "cpu", measure_performance=True)
    return TimingPhase(request, gpu, Workers(script, gpu), set()).run()


@pytest.mark.parametrize("gpu", [False, True], ids=["cpu", "gpu"])
def test_an_honest_module_keeps_the_speedup_of_the_earlier_rounds(gpu: bool) -> None:
    measured = timed(Script(plain=0.5, seen=0.5, new=0.5), gpu)

    assert measured.timing is not None and measured.timing.speedup == pytest.approx(2.0, rel=0.05)
    assert not measured.flags and "re-timed" not in measured.timing.method


@pytest.mark.parametrize("gpu", [False, True], ids=["cpu", "gpu"])
def test_slower_on_seen_values_in_the_rounds_with_fresh_values_is_retimed_on_them_not_flagged(
    gpu: bool,
) -> None:
    measured = timed(Script(plain=0.1, seen=1.0, new=1.0), gpu)

    assert not measured.flags
    assert measured.timing is not None and measured.timing.speedup == pytest.approx(1.0, rel=0.05)
    assert measured.timing.figure == ("gpu_kernel_time" if gpu else "end_to_end")
    assert measured.timing.custom.trials == 2 * fresh.CALLS_PER_LOOP * (2 if gpu else 1)
    assert "re-timed on the" in measured.timing.method
    warnings = [m.message for m in measured.messages if m.severity is Severity.WARNING]
    assert len(warnings) == 1 and "the speedup is taken from those rounds" in warnings[0]


@pytest.mark.parametrize("gpu", [False, True], ids=["cpu", "gpu"])
def test_faster_on_seen_than_on_fresh_values_in_the_same_round_is_flagged(gpu: bool) -> None:
    measured = timed(Script(plain=0.1, seen=0.1, new=1.0), gpu)

    assert [flag.kind for flag in measured.flags] == [FlagKind.FASTER_ON_SEEN_VALUES]
    assert measured.timing is not None and "speedup not valid" in measured.timing.method


def test_a_machine_too_busy_to_tell_is_said_so_and_nothing_is_retimed() -> None:
    measured = timed(Script(plain=0.1, seen=1.0, new=1.0, waited=0.5), gpu=False)

    assert [flag.kind for flag in measured.flags] == [FlagKind.MACHINE_TOO_BUSY]
    assert measured.timing is not None and "re-timed" not in measured.timing.method


def test_a_first_round_with_fresh_values_slower_once_is_a_stall_and_changes_nothing() -> None:
    measured = timed(Script(plain=0.5, seen=0.5, new=0.5, first_seen=1.0), gpu=False)

    assert not measured.flags and all(m.severity is Severity.INFO for m in measured.messages)
    assert measured.timing is not None and measured.timing.speedup == pytest.approx(2.0, rel=0.05)
    assert "re-timed" not in measured.timing.method
