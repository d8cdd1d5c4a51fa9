"""The correctness rules end to end through the WorkerPool: cheats caught, real kernels judged fairly.

Each case is a pair in tests/test_data/cpu (see tests/cases.py for the shared references).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_engine import CPU, CUDA, assert_correct, evaluate, evaluate_pair, failing_outputs, line_of

from kernel_eval.engine.pool import WorkerPool
from kernel_eval.result import Severity, Verdict


def test_lazy_tensor_subclass_output_is_rejected(pool: WorkerPool, build_prefix: Path) -> None:
    result = evaluate(pool, build_prefix, "lazy")

    [bad] = failing_outputs(result)
    assert bad.reason == "type"
    assert bad.detail.startswith("output is a LazySum, not a plain torch.Tensor")
    [flag] = result.flags
    assert flag.kind == "output_subclass" and flag.severity is Severity.ERROR
    assert flag.location is not None and flag.location.line == line_of(
        CPU / "model_new_lazy.py", "def forward"
    )


def test_zeros_against_outputs_below_the_tolerance_are_flagged(pool: WorkerPool, build_prefix: Path) -> None:
    result = evaluate(pool, build_prefix, "zeros", atol=1e-3, rtol=1e-3)

    assert result.verdict is Verdict.CORRECT and result.exit_code == 1
    [flag] = result.flags
    assert flag.kind == "vacuous_check" and flag.severity is Severity.ERROR
    assert result.headline.startswith("⚑ flagged — vacuous check: a kernel returning constants would pass")


def test_zeros_fail_against_the_float64_answer(pool: WorkerPool, build_prefix: Path) -> None:
    [bad] = failing_outputs(evaluate(pool, build_prefix, "zeros"))

    assert bad.method == "float64" and bad.custom_norm_error == 1.0


def test_result_cached_by_shape_is_caught_by_the_second_trial(pool: WorkerPool, build_prefix: Path) -> None:
    result = evaluate(pool, build_prefix, "shape_cache")

    failing_outputs(result)
    assert result.correctness is not None
    assert [t.passed for t in result.correctness.trials] == [True, False]


def test_large_k_fp32_reduction_in_another_order_passes(pool: WorkerPool, build_prefix: Path) -> None:
    result = evaluate(pool, build_prefix, "large_k")

    assert_correct(result)
    assert result.correctness is not None and result.correctness.num_secret_trials == 1
    assert [t.secret for t in result.correctness.trials] == [False, False, True]
    for trial in result.correctness.trials:
        [output] = trial.outputs
        assert output.method == "float64" and output.ref_error is not None and output.custom_error is not None
    assert result.flags == []


def test_large_k_with_fp16_rounded_operands_fails(pool: WorkerPool, build_prefix: Path) -> None:
    [bad] = failing_outputs(evaluate(pool, build_prefix, "large_k_fp16"))

    assert bad.method == "float64" and bad.reason == "values"
    assert bad.custom_norm_error is not None and bad.allowed_norm_error is not None
    assert bad.custom_norm_error > 10 * bad.allowed_norm_error
    assert "the size of fp16/bf16/TF32 rounding" in bad.detail


def test_inputs_that_ignore_the_seed_are_noted(pool: WorkerPool, build_prefix: Path) -> None:
    result = evaluate(pool, build_prefix, "fixed_inputs")

    assert_correct(result)
    [note] = [m for m in result.messages if m.kind == "same_inputs"]
    assert (
        note.severity is Severity.WARNING and "returned the same values for different seeds" in note.message
    )


@pytest.mark.gpu
def test_gpu_own_cuda_kernel_is_listed_without_a_warning(pool: WorkerPool, build_prefix: Path) -> None:
    ref, custom = CUDA / "model_ex_add.py", CUDA / "model_new_ex_add.py"
    result = evaluate_pair(pool, build_prefix, ref, custom, device="cuda:0")

    assert_correct(result)
    assert result.kernels["reference"] and result.kernels["custom"]
    assert not [f for f in result.flags if f.kind == "no_custom_kernel"]


@pytest.mark.gpu
def test_gpu_custom_module_of_plain_pytorch_ops_is_warned_about(pool: WorkerPool, build_prefix: Path) -> None:
    result = evaluate(pool, build_prefix, "gelu", device="cuda:0")

    assert_correct(result)  # a warning leaves the verdict and the exit status alone
    [flag] = [f for f in result.flags if f.kind == "no_custom_kernel"]
    assert flag.severity is Severity.WARNING and flag.message.startswith("no custom kernel ran")


def test_lazy_output_only_while_timed_is_caught(pool: WorkerPool, build_prefix: Path) -> None:
    result = evaluate(pool, build_prefix, "lazy_when_timed", measure_performance=True)

    assert result.exit_code == 1, (result.headline, result.messages)
    kinds = [f.kind for f in result.flags if f.severity is Severity.ERROR]
    assert "output_subclass" in kinds, result.flags
