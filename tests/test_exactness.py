"""Judging against the float64 answer: correct reductions in another order pass, real errors fail."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from kernel_eval.stages import exactness
from kernel_eval.stages.check import compare_outputs
from kernel_eval.stages.exactness import Float64Answer, Float64Reference

K = 131_072


class MatMul(nn.Module):
    def forward(self, a, b):
        return a @ b


@pytest.fixture(scope="module")
def large_k():
    """A K = 131,072 fp32 matmul, its native result and its float64 answer."""
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(16, K, generator=generator)
    b = torch.randn(K, 32, generator=generator)
    answer = Float64Reference(MatMul()).answer([a, b], {})
    return a, b, a @ b, answer


def only(comparisons):
    assert len(comparisons) == 1, comparisons
    return comparisons[0]


def split_k(a, b, chunk):
    return torch.stack([a[:, k : k + chunk] @ b[k : k + chunk] for k in range(0, a.shape[1], chunk)]).sum(0)


def sequential_tiles(a, b, tile):
    """Accumulates tile by tile into one fp32 accumulator, like a naive Triton kernel's K loop."""
    acc = torch.zeros(a.shape[0], b.shape[1], dtype=a.dtype)
    for k in range(0, a.shape[1], tile):
        acc = acc + a[:, k : k + tile] @ b[k : k + tile]
    return acc


def test_float64_answer_runs_a_copy_in_float64(large_k):
    a, b, _, answer = large_k
    assert answer.available and answer.output.dtype == torch.float64
    linear = nn.Linear(4, 3)
    Float64Reference(linear).answer([torch.randn(2, 4)], {})
    assert linear.weight.dtype == torch.float32  # the user's reference model is left as it was
    assert torch.equal(answer.output, a.double() @ b.double())


def test_tensors_made_inside_forward_are_float64_too():
    class Offset(nn.Module):
        def forward(self, x):
            return x + torch.full(x.shape, 0.1)

    answer = Float64Reference(Offset()).answer([torch.zeros(3)], {})
    assert answer.output.dtype == torch.float64 and answer.output[0].item() == 0.1


def test_reference_without_float64_kernel_gives_a_note():
    class NoDouble(nn.Module):
        def forward(self, x):
            if x.dtype == torch.float64:
                raise RuntimeError("\"addmm_impl\" not implemented for 'Double'\nmore text")
            return x

    answer = Float64Reference(NoDouble()).answer([torch.ones(2)], {})
    assert not answer.available and answer.output is None
    assert answer.note == (
        "the reference does not run in float64 (RuntimeError: \"addmm_impl\" not implemented for 'Double')"
    )
    result = only(compare_outputs(torch.ones(2), torch.ones(2) + 1e-3, exact=answer))
    assert not result.passed and result.method == "tolerance" and result.note == answer.note
    assert result.detail.endswith(f"(tolerance check: {answer.note})")


@pytest.mark.parametrize("chunk", [4096, 256])
def test_split_k_in_another_order_passes(large_k, chunk):
    a, b, ref, answer = large_k
    result = only(compare_outputs(ref, split_k(a, b, chunk), exact=answer))
    assert result.passed and result.method == "float64", result.detail
    assert result.custom_error is not None and result.ref_error is not None
    assert result.detail.startswith("output: match against the float64 answer (error ")


def test_sequential_fp32_accumulation_passes(large_k):
    a, b, ref, answer = large_k
    custom = sequential_tiles(a, b, 16)
    tolerance = only(compare_outputs(ref, custom))
    assert not tolerance.passed  # the fixed fp32 tolerance wrongly fails this correct kernel
    assert only(compare_outputs(ref, custom, exact=answer)).passed


@pytest.mark.parametrize(
    "wrong",
    [
        pytest.param(lambda a, b: a[:, 1:] @ b[1:], id="off-by-one-first-k"),
        pytest.param(lambda a, b: (a @ b).roll(1, dims=1), id="off-by-one-column"),
        pytest.param(lambda a, b: a[:, : K - 4096] @ b[: K - 4096], id="dropped-tail"),
        pytest.param(lambda a, b: a.bfloat16().float() @ b.bfloat16().float(), id="bf16-operands"),
        pytest.param(lambda a, b: a.half().float() @ b.half().float(), id="fp16-operands"),
        pytest.param(lambda a, b: (a @ b) * (1 + 1e-3), id="relative-bias-1e-3"),
    ],
)
def test_wrong_large_k_results_fail(large_k, wrong):
    a, b, ref, answer = large_k
    result = only(compare_outputs(ref, wrong(a, b), exact=answer))
    assert not result.passed and result.reason == "values" and result.method == "float64"
    assert result.custom_error > result.allowed_error or result.custom_norm_error > result.allowed_norm_error
    assert "vs the reference's" in result.detail and "(float64: " in result.detail


def test_fp16_operands_pass_a_fixed_loose_tolerance_but_not_the_rule(large_k):
    a, b, ref, answer = large_k
    custom = a.half().float() @ b.half().float()
    assert only(compare_outputs(ref, custom, atol=0.5, rtol=0.0)).passed  # ~1e-3 of the scale
    result = only(compare_outputs(ref, custom, exact=answer))
    assert "the size of fp16/bf16/TF32 rounding" in result.detail


def test_explicit_tolerances_win_over_the_float64_rule(large_k):
    a, b, ref, answer = large_k
    result = only(compare_outputs(ref, a.half().float() @ b.half().float(), atol=0.5, rtol=0.0, exact=answer))
    assert result.passed and result.method == "tolerance" and result.custom_error is None


def test_one_wrong_element_in_a_large_output_fails():
    x = torch.randn(512, 2048, generator=torch.Generator().manual_seed(1))
    answer = Float64Answer(torch.tanh(x.double()))
    custom = torch.tanh(x)
    custom[300, 7] += 1e-3
    result = only(compare_outputs(torch.tanh(x), custom, exact=answer))
    assert not result.passed and result.worst_index == [300, 7] and result.mismatch_count == 1
    assert result.custom_norm_error < result.allowed_norm_error  # a norm-wise check alone would miss it
    assert result.detail.startswith("output: 1/1048576 elements further from the float64 answer than 32×")


def test_exact_reference_allows_rounding_but_not_more():
    x = torch.randn(1000, generator=torch.Generator().manual_seed(2))
    answer = Float64Answer(torch.relu(x.double()))
    ref = torch.relu(x)
    one_ulp = torch.nextafter(ref, torch.full_like(ref, float("inf")))
    assert only(compare_outputs(ref, one_ulp, exact=answer)).passed
    assert not only(compare_outputs(ref, ref * (1 + 1e-5), exact=answer)).passed


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_low_precision_outputs(dtype):
    generator = torch.Generator().manual_seed(3)
    a = torch.randn(64, 4096, generator=generator).to(dtype)
    b = torch.randn(4096, 64, generator=generator).to(dtype)
    answer = Float64Answer(a.double() @ b.double())
    ref = a @ b
    fp32_accumulation = sequential_tiles(a.float(), b.float(), 32).to(dtype)
    assert only(compare_outputs(ref, fp32_accumulation, exact=answer)).passed
    low_accumulation = sequential_tiles(a, b, 32)  # accumulates in the output's own dtype
    assert not only(compare_outputs(ref, low_accumulation, exact=answer)).passed


def test_nan_is_still_a_nan_failure():
    answer = Float64Answer(torch.ones(3, dtype=torch.float64))
    custom = torch.tensor([1.0, float("nan"), 1.0])
    assert only(compare_outputs(torch.ones(3), custom, exact=answer)).reason == "nan"


@pytest.mark.parametrize(
    ("ref", "exact", "note"),
    [
        (torch.arange(3), torch.arange(3), "int64 outputs are compared exactly"),
        (
            torch.ones(2, dtype=torch.float64),
            torch.ones(2, dtype=torch.float64),
            "already computes in float64",
        ),
        (torch.ones(2), torch.ones(2), "casts this output to float32 even when run in float64"),
        (torch.ones(2), torch.ones(3, dtype=torch.float64), "returned shape [3], not [2]"),
        (torch.ones(2), None, "returned no floating tensor here"),
    ],
)
def test_unusable_answers(ref, exact, note):
    assert note in exactness.unusable(ref, exact)


def test_zero_answer_falls_back_to_tolerance():
    zeros = torch.zeros(4)
    result = only(compare_outputs(zeros, zeros + 1e-6, exact=Float64Answer(zeros.double())))
    assert result.passed and result.method == "tolerance"
    assert result.note == "the float64 answer is zero or not finite everywhere"


def test_answer_is_walked_with_the_output_structure():
    x = torch.randn(8)
    ref = {"y": (x * 3, torch.arange(2))}
    answer = Float64Answer({"y": (x.double() * 3, torch.arange(2))})
    results = compare_outputs(ref, {"y": (x * 3 * (1 + 1e-4), torch.arange(2))}, exact=answer)
    assert [r.method for r in results] == ["float64", "tolerance"]
    assert not results[0].passed and results[1].passed and results[1].note == ""


def test_reference_check_run_has_no_tf32_or_reduced_precision_reductions():
    matmul, cudnn = torch.backends.cuda.matmul, torch.backends.cudnn
    before = (matmul.allow_tf32, cudnn.allow_tf32, matmul.allow_fp16_reduced_precision_reduction)
    cudnn.allow_tf32 = True
    try:
        with exactness.full_precision():
            assert not matmul.allow_tf32 and not cudnn.allow_tf32
            assert not matmul.allow_fp16_reduced_precision_reduction
            assert not matmul.allow_bf16_reduced_precision_reduction
        assert cudnn.allow_tf32
    finally:
        matmul.allow_tf32, cudnn.allow_tf32, matmul.allow_fp16_reduced_precision_reduction = before
