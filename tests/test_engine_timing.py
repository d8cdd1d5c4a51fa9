"""Timing through the WorkerPool: interleaved adaptive rounds, the minimum trial count, and a clock cheat caught."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest
from cases import cpu_case

from kernel_eval.engine.pool import WorkerPool
from kernel_eval.progress import ProgressCallback, ProgressEvent, ignore_progress
from kernel_eval.request import EvalRequest
from kernel_eval.result import EvalResult, Verdict


def evaluate(
    pool: WorkerPool,
    build_prefix: Path,
    case: str,
    on_progress: ProgressCallback = ignore_progress,
    **options: object,
) -> EvalResult:
    ref, custom = cpu_case(case)
    request = EvalRequest(
        ref_src=str(ref),
        custom_src=str(custom),
        build_dir_prefix=str(build_prefix),
        device="cpu",
        timeout_s=120.0,
        measure_performance=True,
        **options,  # type: ignore[arg-type]
    )
    return pool.evaluate(request, on_progress)


def test_adaptive_rounds_take_at_least_the_asked_trials(pool: WorkerPool, build_prefix: Path) -> None:
    result = evaluate(pool, build_prefix, "gelu", num_perf_trials=25)

    assert result.verdict is Verdict.CORRECT and result.exit_code == 0, result.headline
    timing = result.timing
    assert timing is not None and not timing.meaningful
    assert timing.reference.trials >= 25 and timing.custom.trials >= 25
    assert (
        len(timing.speedup_ci95) == 2 and timing.speedup_ci95[0] <= timing.speedup <= timing.speedup_ci95[1]
    )
    assert timing.figure == "end_to_end" and "perf_counter" in timing.method
    assert timing.warmup >= 3 and result.flags == []


def test_timing_rounds_alternate_reference_first(pool: WorkerPool, build_prefix: Path) -> None:
    events: list[ProgressEvent] = []
    result = evaluate(pool, build_prefix, "gelu", events.append, num_perf_trials=40)

    assert result.timing is not None
    sides = [
        e.message.split()[1] for e in events if e.message.startswith("timing ") and "samples" in e.message
    ]
    assert sides[:2] == ["reference", "custom"] and len(sides) >= 2
    assert all(a != b for a, b in itertools.pairwise(sides)), sides


def test_perf_counter_patched_at_import_is_flagged_and_exits_1(pool: WorkerPool, build_prefix: Path) -> None:
    result = evaluate(pool, build_prefix, "clock_cheat")

    assert result.verdict is Verdict.CORRECT
    assert [f.kind for f in result.flags] == ["clock_tampered"]
    assert "time.perf_counter" in result.flags[0].message
    assert result.exit_code == 1 and result.headline.startswith("⚑ flagged")
    assert result.timing is not None and "not valid" in result.timing.method
    # the bound clock measured: a 1000x cheat would show as a speedup far beyond what an add can gain
    assert result.timing.speedup < 50

    clean = evaluate(pool, build_prefix, "add")  # the tampered worker was replaced
    assert clean.flags == [], [f.message for f in clean.flags]


def test_result_remembered_across_timed_calls_is_flagged(pool: WorkerPool, build_prefix: Path) -> None:
    result = evaluate(pool, build_prefix, "remembers")

    assert result.verdict is Verdict.CORRECT, result.headline  # each checked call had fresh tensors
    assert [f.kind for f in result.flags] == ["remembered_result"]
    # at least every output on a set drawn fresh for the timing (one loop on the CPU: four)
    assert re.search(
        r"\d+ of the \d+ outputs checked, 4 of them on input sets drawn fresh", result.flags[0].message
    )
    assert result.exit_code == 1


# --- GPU -----------------------------------------------------------------------------------------------------

CUDA_REF = Path(__file__).resolve().parent / "test_data" / "cuda" / "model_ex_add.py"
CUDA_TIMING = Path(__file__).resolve().parent / "test_data" / "cuda_timing"


def evaluate_cuda(pool: WorkerPool, build_prefix: Path, custom: Path, **options: object) -> EvalResult:
    request = EvalRequest(
        ref_src=str(CUDA_REF),
        custom_src=str(custom),
        build_dir_prefix=str(build_prefix),
        device="cuda:0",
        timeout_s=120.0,
        measure_performance=True,
        **options,  # type: ignore[arg-type]
    )
    return pool.evaluate(request)


@pytest.mark.gpu
def test_gpu_identical_add_reads_both_figures_and_about_one(pool: WorkerPool, build_prefix: Path) -> None:
    result = evaluate_cuda(pool, build_prefix, CUDA_TIMING / "model_new_torch_add.py")

    assert result.verdict is Verdict.CORRECT and result.exit_code == 0, (result.headline, result.flags)
    timing = result.timing
    assert timing is not None and timing.meaningful and timing.figure == "gpu_kernel_time"
    assert 0.95 <= timing.speedup <= 1.05, timing
    assert timing.speedup_ci95[0] <= timing.speedup <= timing.speedup_ci95[1]
    assert timing.reference_end_to_end is not None and timing.custom_end_to_end is not None
    assert timing.floor is not None and 20 < timing.floor.custom_percent < 150
    assert timing.reference.trials >= 10
    assert [flag.kind for flag in result.flags] == [
        "no_custom_kernel"
    ]  # it calls torch's add: said, not blocking


@pytest.mark.gpu
def test_gpu_side_stream_forward_is_flagged(pool: WorkerPool, build_prefix: Path) -> None:
    result = evaluate_cuda(pool, build_prefix, CUDA_TIMING / "model_new_side_stream.py")

    assert result.verdict is Verdict.CORRECT, result.headline
    assert "side_stream" in [f.kind for f in result.flags]
    assert result.exit_code == 1


@pytest.mark.gpu
def test_gpu_patched_cuda_event_is_flagged(pool: WorkerPool, build_prefix: Path) -> None:
    result = evaluate_cuda(pool, build_prefix, CUDA_TIMING / "model_new_event_cheat.py")

    assert result.verdict is Verdict.CORRECT, result.headline
    tampered = [f for f in result.flags if f.kind == "clock_tampered"]
    assert tampered and "torch.cuda.Event.elapsed_time" in tampered[0].message
    assert result.exit_code == 1
    assert result.timing is not None and result.timing.speedup < 3  # the bound clocks measured an add


@pytest.mark.gpu
def test_gpu_forward_that_cheats_only_under_the_profiler_is_caught(
    pool: WorkerPool, build_prefix: Path
) -> None:
    result = evaluate_cuda(pool, build_prefix, CUDA_TIMING / "model_new_profiler_aware.py")

    assert result.verdict is Verdict.CORRECT, result.headline  # its checked forwards ran without a profiler
    assert "remembered_result" in [
        f.kind for f in result.flags
    ]  # the profiled timed calls' outputs are checked
    assert result.exit_code == 1


@pytest.mark.gpu
def test_gpu_result_remembered_while_timed_is_caught_and_below_the_floor(
    pool: WorkerPool, build_prefix: Path
) -> None:
    result = evaluate_cuda(pool, build_prefix, CUDA_TIMING / "model_new_remembers_when_timed.py")

    assert result.verdict is Verdict.CORRECT, result.headline  # the checked calls computed
    kinds = [f.kind for f in result.flags]
    assert "remembered_result" in kinds and "below_physical_floor" in kinds, kinds
    assert result.exit_code == 1
