"""Output comparison: what a user sees when ModelNew's outputs differ from Model's."""

from __future__ import annotations

import json

import attrs
import pytest
import torch

from kernel_eval.stages.check import all_passed, compare_outputs, default_tolerance

NAN, INF = float("nan"), float("inf")


def only(comparisons):
    assert len(comparisons) == 1, comparisons
    return comparisons[0]


@pytest.mark.parametrize(
    ("dtype", "expected"),
    [
        (torch.float32, (1e-4, 1e-4)),
        (torch.float64, (1e-4, 1e-4)),
        (torch.float16, (1e-2, 1e-2)),
        (torch.bfloat16, (1e-2, 1e-2)),
        (torch.int32, (0.0, 0.0)),
        (torch.int64, (0.0, 0.0)),
        (torch.bool, (0.0, 0.0)),
    ],
)
def test_default_tolerance(dtype, expected):
    assert default_tolerance(dtype) == expected


def test_identical_tensor_passes_with_margins():
    ref = torch.randn(8, 8)
    result = only(compare_outputs(ref, ref.clone() + 1e-6))
    assert result.passed and result.reason == ""
    assert result.path == "output"
    assert 0 < result.max_abs_error < 1e-5 and result.max_rel_error > 0
    assert result.mismatch_count == 0 and result.numel == 64
    assert (result.atol, result.rtol) == (1e-4, 1e-4)
    assert result.detail.startswith("output: match (max abs err ")
    assert all_passed([result])


def test_values_failure_reports_worst_element_and_counts():
    ref = torch.zeros(4, 32)
    custom = ref.clone()
    custom[3, 17] = 0.5
    custom[1, 2] = 0.01
    result = only(compare_outputs(ref, custom))
    assert not result.passed and result.reason == "values"
    assert result.worst_index == [3, 17]
    assert result.custom_value_at_worst == 0.5 and result.ref_value_at_worst == 0.0
    assert result.mismatch_count == 2 and result.mismatch_fraction == pytest.approx(2 / 128)
    assert result.max_abs_error == pytest.approx(0.5)
    assert result.detail == (
        "output: 2/128 elements outside tolerance (atol 0.0001, rtol 0.0001), max abs err 5.0e-01; "
        "worst at [3, 17]: got 0.5, expected 0"
    )
    assert not all_passed([result])


def test_worst_index_in_three_dimensions():
    ref = torch.ones(3, 4, 5)
    custom = ref.clone()
    custom[2, 1, 3] = 4.0
    custom[0, 0, 0] = 1.5
    assert only(compare_outputs(ref, custom)).worst_index == [2, 1, 3]


def test_rtol_scales_with_reference_magnitude():
    ref = torch.tensor([1000.0, 1.0])
    within_rtol = torch.tensor([1000.05, 1.0])  # |err| 0.05 <= 1e-4 + 1e-4 * 1000
    assert only(compare_outputs(ref, within_rtol)).passed
    outside = torch.tensor([1000.0, 1.001])
    assert only(compare_outputs(ref, outside)).worst_index == [1]


def test_user_atol_override_is_used_and_reported():
    ref = torch.zeros(10)
    custom = torch.full((10,), 0.05)
    assert not only(compare_outputs(ref, custom)).passed
    result = only(compare_outputs(ref, custom, atol=0.1, rtol=0.0))
    assert result.passed and (result.atol, result.rtol) == (0.1, 0.0)


def test_bf16_uses_looser_default_tolerance():
    ref = torch.ones(16, dtype=torch.bfloat16)
    custom = ref + 0.0078125  # next bf16 value after 1.0
    assert only(compare_outputs(ref, custom)).passed
    assert not only(compare_outputs(ref.float(), custom.float())).passed


def test_integers_must_match_exactly():
    ref = torch.arange(10)
    custom = ref.clone()
    custom[7] += 1
    result = only(compare_outputs(ref, custom))
    assert result.reason == "values" and result.worst_index == [7]
    assert result.detail == (
        "output: 1/10 elements differ (exact match required for int64); worst at [7]: got 8, expected 7"
    )
    assert only(compare_outputs(ref, ref.clone())).detail == "output: exact match"


def test_int64_exactness_beyond_float64_precision():
    ref = torch.tensor([2**60])
    assert not only(compare_outputs(ref, ref + 1)).passed


def test_bool_outputs():
    ref = torch.tensor([True, False, True])
    assert only(compare_outputs(ref, ref.clone())).passed
    assert only(compare_outputs(ref, ~ref)).mismatch_count == 3


def test_nan_where_reference_is_finite():
    ref = torch.ones(2, 3)
    custom = ref.clone()
    custom[1, 2] = NAN
    result = only(compare_outputs(ref, custom))
    assert result.reason == "nan" and result.worst_index == [1, 2]
    assert result.custom_value_at_worst is None  # NaN cannot travel in JSON; the detail shows it
    assert result.ref_value_at_worst == 1.0
    assert result.detail == (
        "output: NaN at 1/6 elements where the reference is not; first at [1, 2]: got nan, expected 1"
    )
    json.dumps(attrs.asdict(result), allow_nan=False)


def test_reference_nan_missing_from_output():
    ref = torch.tensor([1.0, NAN])
    result = only(compare_outputs(ref, torch.tensor([1.0, 2.0])))
    assert result.reason == "nan"
    assert "reference is NaN at 1 elements where the output is not" in result.detail


def test_nan_at_same_positions_passes():
    ref = torch.tensor([NAN, 1.0, INF, -INF])
    result = only(compare_outputs(ref, ref.clone()))
    assert result.passed and result.max_abs_error == 0.0 and result.max_rel_error == 0.0


def test_inf_at_different_positions():
    ref = torch.tensor([1.0, INF, 3.0])
    result = only(compare_outputs(ref, torch.tensor([1.0, 2.0, INF])))
    assert result.reason == "inf" and result.worst_index == [1]
    assert result.mismatch_count == 2
    assert result.detail.startswith(
        "output: infinities differ from the reference at 2/3 elements; first at [1]"
    )


def test_inf_with_opposite_sign():
    result = only(compare_outputs(torch.tensor([INF]), torch.tensor([-INF])))
    assert result.reason == "inf" and "got -inf, expected inf" in result.detail


def test_dtype_mismatch_fails_even_when_values_agree():
    ref = torch.ones(4)
    result = only(compare_outputs(ref, ref.half()))
    assert result.reason == "dtype"
    assert (result.ref_dtype, result.custom_dtype) == ("float32", "float16")
    assert result.detail == "output: dtype float16 vs reference float32"


def test_shape_mismatch():
    result = only(compare_outputs(torch.zeros(4, 8), torch.zeros(4, 4)))
    assert result.reason == "shape"
    assert result.detail == "output: shape [4, 4] vs reference [4, 8]"
    assert (result.ref_shape, result.custom_shape) == ([4, 8], [4, 4])


def test_nested_paths_through_tuples_and_dicts():
    ref = (torch.zeros(2), [torch.ones(3), {"logits": torch.zeros(2, 2)}])
    custom = (torch.zeros(2), (torch.ones(3), {"logits": torch.eye(2)}))
    results = compare_outputs(ref, custom)
    assert [r.path for r in results] == ["output[0]", "output[1][0]", "output[1][1]['logits']"]
    assert [r.passed for r in results] == [True, True, False]
    assert results[2].detail.startswith("output[1][1]['logits']: ")
    assert results[2].worst_index == [0, 0]


def test_structure_tuple_vs_tensor():
    result = only(compare_outputs(torch.zeros(2), (torch.zeros(2),)))
    assert result.reason == "structure"
    assert result.detail == "output: got a tuple of 1 element(s), expected a Tensor of shape [2]"


def test_structure_length_mismatch():
    result = only(compare_outputs((torch.zeros(1), torch.zeros(1)), (torch.zeros(1),)))
    assert result.reason == "structure" and "expected 2 element(s)" in result.detail


def test_structure_dict_keys():
    result = only(compare_outputs({"a": 1, "b": 2}, {"a": 1, "c": 2}))
    assert result.reason == "structure"
    assert (
        result.detail
        == "output: dict keys differ from the reference: missing keys ['b'], unexpected keys ['c']"
    )


def test_tensor_versus_scalar_is_a_type_failure():
    result = only(compare_outputs(torch.tensor(2.0), 2.0))
    assert result.reason == "type"
    assert result.detail == "output: got a float (2.0), expected a Tensor of shape []"


def test_python_scalars():
    assert only(compare_outputs(1.0, 1.0 + 1e-7)).passed
    failing = only(compare_outputs(3.25, 3.5))
    assert failing.reason == "values" and failing.worst_index is None and failing.ref_shape is None
    assert failing.detail == "output: got 3.5, expected 3.25 (abs err 2.5e-01, atol 0.0001, rtol 0.0001)"
    assert only(compare_outputs(3, 3.0)).reason == "dtype"
    assert only(compare_outputs(True, False)).reason == "values"


def test_none_leaves():
    assert only(compare_outputs((torch.ones(1), None), (torch.ones(1), None))[1:]).passed
    assert only(compare_outputs(None, torch.ones(1))).reason == "type"


def test_empty_tensors_pass():
    assert only(compare_outputs(torch.zeros(0, 3), torch.zeros(0, 3))).passed


def test_zero_dim_tensor_detail_has_no_index():
    result = only(compare_outputs(torch.tensor(1.0), torch.tensor(2.0)))
    assert result.worst_index == [] and result.detail == (
        "output: got 2, expected 1 (abs err 1.0e+00, atol 0.0001, rtol 0.0001)"
    )


def test_non_contiguous_custom_output():
    ref = torch.arange(12.0).reshape(3, 4)
    custom = ref.t().contiguous().t()
    custom[2, 1] = -1
    assert only(compare_outputs(ref, custom)).worst_index == [2, 1]


def test_chunked_reduction_finds_worst_in_a_later_chunk(monkeypatch):
    monkeypatch.setattr("kernel_eval.stages.check.CHUNK_ELEMENTS", 7)
    ref = torch.zeros(5, 6)
    custom = ref.clone()
    custom[0, 1] = 0.1
    custom[4, 5] = 0.3
    custom[3, 0] = NAN
    result = only(compare_outputs(ref, custom))
    assert result.reason == "nan" and result.worst_index == [3, 0] and result.mismatch_count == 3
    custom[3, 0] = 0
    result = only(compare_outputs(ref, custom))
    assert result.worst_index == [4, 5] and result.max_abs_error == pytest.approx(0.3)


def test_requires_grad_outputs():
    ref = torch.ones(3, requires_grad=True) * 2
    assert only(compare_outputs(ref, ref.detach().clone())).passed


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_large_gpu_tensor_and_cross_device():
    ref = torch.randn(100_000_000, device="cuda")
    custom = ref.clone()
    custom[12_345_678] += 1.0
    result = only(compare_outputs(ref, custom))
    assert result.worst_index == [12_345_678] and result.mismatch_count == 1
    assert only(compare_outputs(ref[:1000], custom[:1000].cpu())).passed


def test_without_a_float64_answer_values_are_judged_by_tolerance():
    result = only(compare_outputs(torch.ones(3), torch.ones(3) + 1e-6))
    assert result.method == "tolerance" and result.note == ""
    assert result.ref_error is None and result.custom_error is None and result.scale is None


def test_with_a_float64_answer_both_errors_are_reported():
    from kernel_eval.stages.exactness import Float64Answer

    x = torch.randn(100, generator=torch.Generator().manual_seed(0))
    result = only(
        compare_outputs(torch.exp(x), torch.exp(x) * (1 + 3e-7), exact=Float64Answer(torch.exp(x.double())))
    )
    assert result.passed and result.method == "float64"
    assert 0 < result.ref_error <= result.allowed_error and 0 < result.custom_error <= result.allowed_error
    assert result.scale == pytest.approx(torch.exp(x.double()).pow(2).mean().sqrt().item())
    assert result.detail.startswith("output: match against the float64 answer (error ")
    json.dumps(attrs.asdict(result), allow_nan=False)
