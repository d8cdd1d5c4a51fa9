"""Correctness: compare the custom model's outputs with the reference's, one comparison per leaf.

Floating leaves are judged against the reference's float64 answer when the caller has one (stages/exactness.py).
Otherwise, and whenever the user gave atol/rtol, they are judged against the reference's output with per-dtype
tolerances.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from typing import Any

import attrs
import torch

from kernel_eval.result import OutputComparison
from kernel_eval.stages import check_stats, exactness
from kernel_eval.stages import check_wording as wording
from kernel_eval.stages.exactness import Float64Answer

# Bounds the float64 temporaries of one comparison (~1 GiB at most).
CHUNK_ELEMENTS = 1 << 24

_LOW_PRECISION = (torch.float16, torch.bfloat16)


def default_tolerance(dtype: torch.dtype) -> tuple[float, float]:
    """(atol, rtol) used when the request leaves them unset."""
    if dtype in _LOW_PRECISION:
        return 1e-2, 1e-2
    if dtype.is_floating_point or dtype.is_complex:
        return 1e-4, 1e-4
    return 0.0, 0.0  # integers and bool must match exactly


@attrs.frozen
class _Rule:
    atol: float | None
    rtol: float | None
    # None: the caller has no float64 answer (tolerances, no note).
    answer: Float64Answer | None

    @property
    def float64(self) -> bool:
        return self.answer is not None and self.atol is None and self.rtol is None


# The float64 answer has no leaf at this path.
_NO_ANSWER = object()


def compare_outputs(
    ref: Any,
    custom: Any,
    atol: float | None = None,
    rtol: float | None = None,
    exact: Float64Answer | None = None,
) -> list[OutputComparison]:
    """Walk both output structures. Returns one OutputComparison per leaf (or per structural difference).

    exact: the reference's float64 answer (see stages/exactness.py). Floating leaves are judged against it
    unless atol or rtol is given.
    """
    comparisons: list[OutputComparison] = []
    rule = _Rule(atol, rtol, exact)
    with torch.no_grad():
        _walk(ref, custom, exact.output if exact is not None else _NO_ANSWER, "output", rule, comparisons)
    return comparisons


def all_passed(comparisons: list[OutputComparison]) -> bool:
    return all(comparison.passed for comparison in comparisons)


def _walk(ref: Any, custom: Any, exact: Any, path: str, rule: _Rule, out: list[OutputComparison]) -> None:
    ref_kind, custom_kind = _kind(ref), _kind(custom)
    containers = ("sequence", "mapping")
    if ref_kind not in containers and custom_kind not in containers:
        out.append(_compare_leaf(ref, custom, exact, path, rule))
        return
    if ref_kind != custom_kind:
        out.append(_failure(path, "structure", wording.kinds_differ(custom, custom_kind, ref, ref_kind)))
    elif ref_kind == "sequence":
        if len(ref) != len(custom):
            out.append(_failure(path, "structure", wording.length_differs(custom, len(ref))))
            return
        for index, (ref_item, custom_item) in enumerate(zip(ref, custom, strict=True)):
            _walk(ref_item, custom_item, _item(exact, index), f"{path}[{index}]", rule, out)
    else:
        missing = [key for key in ref if key not in custom]
        unexpected = [key for key in custom if key not in ref]
        if missing or unexpected:
            out.append(_failure(path, "structure", wording.keys_differ(missing, unexpected)))
            return
        for key in ref:
            _walk(ref[key], custom[key], _item(exact, key), f"{path}[{key!r}]", rule, out)


def _item(exact: Any, key: Any) -> Any:
    """exact[key] where the float64 answer has the reference's structure, else _NO_ANSWER."""
    if isinstance(exact, Mapping):
        return exact.get(key, _NO_ANSWER)
    if isinstance(exact, (list, tuple)) and isinstance(key, int) and key < len(exact):
        return exact[key]
    return _NO_ANSWER


def _kind(value: Any) -> str:
    if isinstance(value, torch.Tensor) or _is_ndarray(value):
        return "tensor"
    if isinstance(value, Mapping):
        return "mapping"
    if isinstance(value, (list, tuple)):
        return "sequence"
    if isinstance(value, numbers.Number):
        return "scalar"
    if value is None:
        return "none"
    return "object"


def _is_ndarray(value: Any) -> bool:
    return type(value).__module__ == "numpy" and type(value).__name__ == "ndarray"


def _failure(path: str, reason: str, what: str) -> OutputComparison:
    return OutputComparison(path=path, passed=False, reason=reason, detail=wording.detail(path, what))


def _compare_leaf(ref: Any, custom: Any, exact: Any, path: str, rule: _Rule) -> OutputComparison:
    ref_kind, custom_kind = _kind(ref), _kind(custom)
    if ref_kind != custom_kind:
        return _failure(path, "type", wording.kinds_differ(custom, custom_kind, ref, ref_kind))
    if ref_kind == "tensor":
        ref_tensor = _as_tensor(ref)
        if rule.float64 and ref_tensor.dtype.is_floating_point:
            assert rule.answer is not None
            why = rule.answer.note or exactness.unusable(ref_tensor, exact)
            if not why:
                return _compare_to_exact(ref_tensor, _as_tensor(custom), _as_tensor(exact), path)
            return _with_note(_compare_tensors(ref_tensor, _as_tensor(custom), path, None, None), why)
        return _compare_tensors(ref_tensor, _as_tensor(custom), path, rule.atol, rule.rtol)
    if ref_kind == "scalar":
        return _compare_scalars(ref, custom, path, rule.atol, rule.rtol)
    if ref_kind == "none":
        return OutputComparison(path=path, passed=True, detail=wording.detail(path, wording.NONE_MATCH))
    try:
        equal = bool(ref == custom)
    except Exception:
        equal = False
    if equal:
        return OutputComparison(path=path, passed=True, detail=wording.detail(path, wording.EQUAL))
    return _failure(path, "values", wording.objects_differ(custom, ref))


def _compare_to_exact(
    ref: torch.Tensor, custom: torch.Tensor, exact: torch.Tensor, path: str
) -> OutputComparison:
    """The float64 rule of stages/exactness.py. Shape, dtype, NaN and inf are checked as with tolerances."""
    base = _compare_tensors(ref, custom, path, None, None)
    if base.reason in ("shape", "dtype", "nan", "inf") or base.numel == 0:
        return base
    errors = exactness.measure(exact, ref, custom.to(ref.device))
    if errors is None:
        return _with_note(base, wording.NO_FLOAT64_SCALE)
    flat = errors.worst_index
    ref_value, custom_value = ref.reshape(-1)[flat].item(), custom.reshape(-1)[flat].item()
    exact_value = exact.reshape(-1)[flat].item()
    result = attrs.evolve(
        base,
        passed=errors.passed,
        reason="" if errors.passed else "values",
        method="float64",
        scale=errors.scale,
        ref_error=errors.ref_error,
        custom_error=errors.custom_error,
        allowed_error=errors.allowed_error,
        ref_norm_error=errors.ref_norm_error,
        custom_norm_error=errors.custom_norm_error,
        allowed_norm_error=errors.allowed_norm_error,
        mismatch_count=errors.over_count,
        mismatch_fraction=errors.over_count / base.numel,
        worst_index=_unravel(flat, list(ref.shape)),
        ref_value_at_worst=_json_float(ref_value),
        custom_value_at_worst=_json_float(custom_value),
    )
    where = wording.where(None if ref.dim() == 0 else result.worst_index)
    values = wording.exact_values(custom_value, ref_value, exact_value)
    sentence = wording.exact_sentence(result, ref.dtype, where, values)
    return attrs.evolve(result, detail=wording.detail(path, sentence))


def _with_note(comparison: OutputComparison, why: str) -> OutputComparison:
    """A floating leaf judged with tolerances because the float64 answer could not judge it."""
    detail = wording.with_tolerance_note(comparison.detail, why)
    return attrs.evolve(comparison, method="tolerance", note=why, detail=detail)


def _as_tensor(value: Any) -> torch.Tensor:
    tensor = value if isinstance(value, torch.Tensor) else torch.from_numpy(value)
    tensor = tensor.detach()
    return tensor.to_dense() if tensor.layout != torch.strided else tensor


def _scalar_kind(value: Any) -> str:
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        return "bool"
    if isinstance(value, numbers.Integral):
        return "int"
    if isinstance(value, numbers.Real):
        return "float"
    return "complex"


_SCALAR_DTYPES = {
    "bool": torch.bool,
    "int": torch.int64,
    "float": torch.float64,
    "complex": torch.complex128,
}


def _compare_scalars(
    ref: Any, custom: Any, path: str, atol: float | None, rtol: float | None
) -> OutputComparison:
    ref_kind, custom_kind = _scalar_kind(ref), _scalar_kind(custom)
    if ref_kind != custom_kind:
        comparison = _failure(path, "dtype", wording.scalar_kinds_differ(custom, custom_kind, ref, ref_kind))
        return attrs.evolve(comparison, ref_dtype=ref_kind, custom_dtype=custom_kind, numel=1)
    dtype = _SCALAR_DTYPES[ref_kind]
    try:
        ref_tensor, custom_tensor = torch.tensor(ref, dtype=dtype), torch.tensor(custom, dtype=dtype)
    except (OverflowError, RuntimeError):  # ints beyond int64
        if ref == custom:
            detail = wording.detail(path, wording.EXACT_MATCH)
            return OutputComparison(path=path, passed=True, numel=1, detail=detail)
        return _failure(path, "values", wording.scalars_differ(custom, ref))
    comparison = _compare_tensors(ref_tensor, custom_tensor, path, atol, rtol, scalar=True)
    comparison = attrs.evolve(comparison, ref_shape=None, custom_shape=None, worst_index=None)
    return attrs.evolve(comparison, ref_dtype=ref_kind, custom_dtype=custom_kind)


def _dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def _compare_tensors(
    ref: torch.Tensor,
    custom: torch.Tensor,
    path: str,
    atol: float | None,
    rtol: float | None,
    scalar: bool = False,
) -> OutputComparison:
    default_atol, default_rtol = default_tolerance(ref.dtype)
    result = OutputComparison(
        path=path,
        passed=False,
        ref_shape=list(ref.shape),
        custom_shape=list(custom.shape),
        ref_dtype=_dtype_name(ref.dtype),
        custom_dtype=_dtype_name(custom.dtype),
        atol=default_atol if atol is None else float(atol),
        rtol=default_rtol if rtol is None else float(rtol),
        numel=ref.numel(),
    )
    if ref.shape != custom.shape:
        detail = wording.detail(path, wording.shape_differs(list(custom.shape), list(ref.shape)))
        return attrs.evolve(result, reason="shape", detail=detail)
    if ref.dtype != custom.dtype:
        detail = wording.detail(path, wording.dtype_differs(result.custom_dtype, result.ref_dtype))
        return attrs.evolve(result, reason="dtype", detail=detail)
    if ref.numel() == 0:
        return attrs.evolve(result, passed=True, detail=wording.detail(path, wording.EMPTY_MATCH))
    custom = custom.to(ref.device)
    # Bitwise identical (no NaN): the per-element statistics are skipped.
    if torch.equal(ref, custom):
        return attrs.evolve(result, passed=True, detail=wording.detail(path, wording.EXACT_MATCH))
    stats = check_stats.measure(ref, custom, result.atol, result.rtol, CHUNK_ELEMENTS)
    return _judge_values(result, stats, ref, custom, scalar)


def _judge_values(
    result: OutputComparison,
    stats: check_stats.ValueStats,
    ref: torch.Tensor,
    custom: torch.Tensor,
    scalar: bool,
) -> OutputComparison:
    """The verdict from the reductions: NaN first, then infinities, then values outside the tolerance."""
    if stats.custom_only_nan or stats.ref_only_nan:
        reason, worst = "nan", stats.first_nan_index
    elif stats.inf_mismatch:
        reason, worst = "inf", stats.first_inf_index
    elif stats.worst_failing_error >= 0:
        reason, worst = "values", stats.worst_failing_index
    else:
        reason, worst = "", stats.max_abs_index
    ref_value, custom_value = ref.reshape(-1)[worst].item(), custom.reshape(-1)[worst].item()
    result = attrs.evolve(
        result,
        passed=not reason,
        reason=reason,
        max_abs_error=stats.max_abs_error,
        max_rel_error=stats.max_rel_error,
        mismatch_count=stats.mismatch_count,
        mismatch_fraction=stats.mismatch_count / result.numel,
        worst_index=_unravel(worst, list(ref.shape)),
        ref_value_at_worst=_json_float(ref_value),
        custom_value_at_worst=_json_float(custom_value),
    )
    where = wording.where(None if scalar or ref.dim() == 0 else _unravel(worst, list(ref.shape)))
    values = wording.values(custom_value, ref_value)
    sentence = wording.tolerance_sentence(result, stats, where, values)
    return attrs.evolve(result, detail=wording.detail(result.path, sentence))


def _unravel(flat_index: int, shape: list[int]) -> list[int]:
    index = []
    for size in reversed(shape):
        flat_index, position = divmod(flat_index, size)
        index.append(position)
    return index[::-1]


def _json_float(value: Any) -> float | None:
    """A finite float for the JSON result (NaN/inf cannot travel in JSON, and the detail text shows them)."""
    if isinstance(value, complex):
        return None
    number = float(value)
    return number if abs(number) != float("inf") and number == number else None
