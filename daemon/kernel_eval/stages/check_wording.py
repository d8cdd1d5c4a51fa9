"""The sentences of the correctness check: the detail of each OutputComparison, as the user reads it."""

from __future__ import annotations

from typing import Any

import torch

from kernel_eval.result import OutputComparison
from kernel_eval.stages import exactness
from kernel_eval.stages.check_stats import ValueStats

EXACT_MATCH = "exact match"
EMPTY_MATCH = "match (empty tensor)"
NONE_MATCH = "None, as in the reference"
EQUAL = "equal to the reference"
NO_FLOAT64_SCALE = "the float64 answer is zero or not finite everywhere"


def detail(path: str, sentence: str) -> str:
    """The sentence about one leaf, led by the leaf's path."""
    return f"{path}: {sentence}"


def kinds_differ(custom: Any, custom_kind: str, ref: Any, ref_kind: str) -> str:
    return f"got {describe(custom, custom_kind)}, expected {describe(ref, ref_kind)}"


def length_differs(custom: Any, ref_length: int) -> str:
    return f"got {describe(custom, 'sequence')}, expected {ref_length} element(s)"


def keys_differ(missing: list[Any], unexpected: list[Any]) -> str:
    parts = [f"missing keys {missing}"] if missing else []
    parts += [f"unexpected keys {unexpected}"] if unexpected else []
    return f"dict keys differ from the reference: {', '.join(parts)}"


def objects_differ(custom: Any, ref: Any) -> str:
    return f"got {_short_repr(custom)}, expected {_short_repr(ref)}"


def scalar_kinds_differ(custom: Any, custom_kind: str, ref: Any, ref_kind: str) -> str:
    return f"got {custom_kind} {custom!r}, expected {ref_kind} {ref!r}"


def scalars_differ(custom: Any, ref: Any) -> str:
    return f"got {custom!r}, expected {ref!r}"


def shape_differs(custom_shape: list[int], ref_shape: list[int]) -> str:
    return f"shape {custom_shape} vs reference {ref_shape}"


def dtype_differs(custom_dtype: str, ref_dtype: str) -> str:
    return f"dtype {custom_dtype} vs reference {ref_dtype}"


def with_tolerance_note(leaf_detail: str, why: str) -> str:
    """A floating leaf's detail when it was judged with tolerances because the float64 answer could not."""
    return f"{leaf_detail} (tolerance check: {why})"


def where(index: list[int] | None) -> str:
    """Where the worst element is, for a sentence ("" for a scalar or a 0-d tensor)."""
    return "" if index is None else f" at {index}"


def values(custom_value: Any, ref_value: Any) -> str:
    return f"got {_fmt(custom_value)}, expected {_fmt(ref_value)}"


def exact_values(custom_value: Any, ref_value: Any, exact_value: Any) -> str:
    return f"{values(custom_value, ref_value)} (float64: {_fmt(exact_value)})"


def exact_sentence(result: OutputComparison, dtype: torch.dtype, where: str, values: str) -> str:
    """The verdict of the float64 rule of stages/exactness.py."""
    assert result.custom_error is not None and result.ref_error is not None
    assert result.custom_norm_error is not None and result.ref_norm_error is not None
    times = f"{exactness.factor(dtype):g}×"
    errors = (
        f"error {_fmt_error(result.custom_error)} vs the reference's {_fmt_error(result.ref_error)}, "
        f"norm-wise {_fmt_error(result.custom_norm_error)} vs {_fmt_error(result.ref_norm_error)}"
    )
    if result.passed:
        return f"match against the float64 answer ({errors}; allowed {times} the reference's)"
    count = f"{result.mismatch_count}/{result.numel}"
    if result.mismatch_count:
        head = f"{count} elements further from the float64 answer than {times} the reference's error"
    else:
        head = f"systematically further from the float64 answer than {times} the reference's error"
    allowed = (
        f"allowed {_fmt_error(result.allowed_error or 0)} and {_fmt_error(result.allowed_norm_error or 0)}"
    )
    return f"{head} ({errors}; {allowed}){_precision_hint(result, dtype)}; worst{where}: {values}"


def _precision_hint(result: OutputComparison, dtype: torch.dtype) -> str:
    """fp32 outputs whose error has the size of fp16/bf16/TF32 rounding usually come from exactly that."""
    norm = result.custom_norm_error or 0.0
    if dtype == torch.float32 and 2**-14 <= norm <= 2**-6:
        return (
            " — the size of fp16/bf16/TF32 rounding: keep operands in fp32 "
            "(Triton's tl.dot rounds fp32 inputs to TF32 unless input_precision='ieee')"
        )
    return ""


def tolerance_sentence(result: OutputComparison, stats: ValueStats, where: str, values: str) -> str:
    """The verdict of the tolerance rule: NaN and inf disagreements, values outside it, or a match."""
    count = f"{result.mismatch_count}/{result.numel}"
    exact = result.atol == 0 and result.rtol == 0
    tolerance = f"atol {result.atol:g}, rtol {result.rtol:g}"
    if result.reason == "nan":
        parts = []
        if stats.custom_only_nan:
            parts.append(f"NaN at {stats.custom_only_nan}/{result.numel} elements where the reference is not")
        if stats.ref_only_nan:
            parts.append(f"reference is NaN at {stats.ref_only_nan} elements where the output is not")
        return f"{'; '.join(parts)}; first{where}: {values}"
    if result.reason == "inf":
        return (
            f"infinities differ from the reference at {stats.inf_mismatch}/{result.numel} elements; "
            f"first{where}: {values}"
        )
    if result.reason == "values":
        if result.numel == 1:
            allowed = f"exact match required for {result.ref_dtype}" if exact else tolerance
            return f"{values} (abs err {_fmt_error(result.max_abs_error)}, {allowed})"
        if exact:
            exact_note = f"exact match required for {result.ref_dtype}"
            return f"{count} elements differ ({exact_note}); worst{where}: {values}"
        max_abs = _fmt_error(result.max_abs_error)
        return (
            f"{count} elements outside tolerance ({tolerance}), max abs err {max_abs}; worst{where}: {values}"
        )
    if exact:
        return EXACT_MATCH
    return f"match (max abs err {_fmt_error(result.max_abs_error)}, {tolerance})"


def describe(value: Any, kind: str) -> str:
    """value in a few words, given the kind check.py sorted it into."""
    if kind == "tensor":
        return f"a Tensor of shape {list(value.shape)}"
    if kind == "sequence":
        return f"a {type(value).__name__} of {len(value)} element(s)"
    if kind == "mapping":
        return f"a dict with keys {list(value)}"
    if kind == "none":
        return "None"
    return f"a {type(value).__name__} ({_short_repr(value)})"


def _short_repr(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _fmt_error(error: float) -> str:
    return "0" if error == 0 else f"{error:.1e}"


def _fmt(value: Any) -> str:
    if isinstance(value, (bool, int)):
        return str(value)
    if isinstance(value, complex):
        return f"{value:.6g}"
    return f"{float(value):.6g}"
