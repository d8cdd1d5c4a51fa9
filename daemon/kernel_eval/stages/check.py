"""Correctness: compare the custom model's outputs with the reference's, one comparison per leaf.

Floating leaves are judged against the reference's float64 answer when the caller has one (stages/exactness.py);
otherwise, and whenever the user gave atol/rtol, against the reference's output with per-dtype tolerances.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from typing import Any

import attrs
import torch

from kernel_eval.result import OutputComparison
from kernel_eval.stages import exactness
from kernel_eval.stages.exactness import Float64Answer

REL_ERROR_FLOOR = 1e-12  # |ref| below this counts as this when computing relative errors
CHUNK_ELEMENTS = 1 << 24  # bounds the float64 temporaries of one comparison (~1 GiB at most)

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
    answer: Float64Answer | None  # None: the caller has no float64 answer (tolerances, no note)

    @property
    def float64(self) -> bool:
        return self.answer is not None and self.atol is None and self.rtol is None


_NO_ANSWER = object()  # the float64 answer has no leaf at this path


def compare_outputs(
    ref: Any,
    custom: Any,
    atol: float | None = None,
    rtol: float | None = None,
    exact: Float64Answer | None = None,
) -> list[OutputComparison]:
    """Walk both output structures; one OutputComparison per leaf (or per structural difference).

    exact: the reference's float64 answer (see stages/exactness.py); floating leaves are judged against it
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
        out.append(_failure(path, "structure", f"got {_describe(custom)}, expected {_describe(ref)}"))
    elif ref_kind == "sequence":
        if len(ref) != len(custom):
            out.append(
                _failure(path, "structure", f"got {_describe(custom)}, expected {len(ref)} element(s)")
            )
            return
        for index, (ref_item, custom_item) in enumerate(zip(ref, custom, strict=True)):
            _walk(ref_item, custom_item, _item(exact, index), f"{path}[{index}]", rule, out)
    else:
        missing = [key for key in ref if key not in custom]
        unexpected = [key for key in custom if key not in ref]
        if missing or unexpected:
            parts = [f"missing keys {missing}"] if missing else []
            parts += [f"unexpected keys {unexpected}"] if unexpected else []
            out.append(
                _failure(path, "structure", f"dict keys differ from the reference: {', '.join(parts)}")
            )
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


def _describe(value: Any) -> str:
    kind = _kind(value)
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


def _failure(path: str, reason: str, what: str) -> OutputComparison:
    return OutputComparison(path=path, passed=False, reason=reason, detail=f"{path}: {what}")


def _compare_leaf(ref: Any, custom: Any, exact: Any, path: str, rule: _Rule) -> OutputComparison:
    ref_kind, custom_kind = _kind(ref), _kind(custom)
    if ref_kind != custom_kind:
        return _failure(path, "type", f"got {_describe(custom)}, expected {_describe(ref)}")
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
        return OutputComparison(path=path, passed=True, detail=f"{path}: None, as in the reference")
    try:
        equal = bool(ref == custom)
    except Exception:
        equal = False
    if equal:
        return OutputComparison(path=path, passed=True, detail=f"{path}: equal to the reference")
    return _failure(path, "values", f"got {_short_repr(custom)}, expected {_short_repr(ref)}")


def _compare_to_exact(
    ref: torch.Tensor, custom: torch.Tensor, exact: torch.Tensor, path: str
) -> OutputComparison:
    """The float64 rule of stages/exactness.py; shape, dtype, NaN and inf are checked as with tolerances."""
    base = _compare_tensors(ref, custom, path, None, None)
    if base.reason in ("shape", "dtype", "nan", "inf") or base.numel == 0:
        return base
    errors = exactness.measure(exact, ref, custom.to(ref.device))
    if errors is None:
        return _with_note(base, "the float64 answer is zero or not finite everywhere")
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
    where = "" if ref.dim() == 0 else f" at {result.worst_index}"
    values = f"got {_fmt(custom_value)}, expected {_fmt(ref_value)} (float64: {_fmt(exact_value)})"
    return attrs.evolve(result, detail=f"{path}: {_exact_sentence(result, ref.dtype, where, values)}")


def _exact_sentence(result: OutputComparison, dtype: torch.dtype, where: str, values: str) -> str:
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


def _with_note(comparison: OutputComparison, why: str) -> OutputComparison:
    """A floating leaf judged with tolerances because the float64 answer could not judge it."""
    detail = f"{comparison.detail} (tolerance check: {why})"
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
        comparison = _failure(path, "dtype", f"got {custom_kind} {custom!r}, expected {ref_kind} {ref!r}")
        return attrs.evolve(comparison, ref_dtype=ref_kind, custom_dtype=custom_kind, numel=1)
    dtype = _SCALAR_DTYPES[ref_kind]
    try:
        ref_tensor, custom_tensor = torch.tensor(ref, dtype=dtype), torch.tensor(custom, dtype=dtype)
    except (OverflowError, RuntimeError):  # ints beyond int64
        if ref == custom:
            return OutputComparison(path=path, passed=True, numel=1, detail=f"{path}: exact match")
        return _failure(path, "values", f"got {custom!r}, expected {ref!r}")
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
        detail = f"{path}: shape {list(custom.shape)} vs reference {list(ref.shape)}"
        return attrs.evolve(result, reason="shape", detail=detail)
    if ref.dtype != custom.dtype:
        detail = f"{path}: dtype {result.custom_dtype} vs reference {result.ref_dtype}"
        return attrs.evolve(result, reason="dtype", detail=detail)
    if ref.numel() == 0:
        return attrs.evolve(result, passed=True, detail=f"{path}: match (empty tensor)")
    custom = custom.to(ref.device)
    if torch.equal(ref, custom):  # bitwise identical (no NaN): skip the per-element statistics
        exact = "exact match"
        return attrs.evolve(result, passed=True, detail=f"{path}: {exact}")
    stats = _ValueStats.measure(ref, custom, result.atol, result.rtol)
    return stats.apply(result, ref, custom, scalar)


@attrs.define
class _ValueStats:
    """Reductions over all elements, computed chunk by chunk on the tensors' device."""

    mismatch_count: int
    custom_only_nan: int
    ref_only_nan: int
    inf_mismatch: int
    max_abs_error: float
    max_abs_index: int
    max_rel_error: float
    worst_failing_error: float  # -1 when no element is outside the tolerance
    worst_failing_index: int
    first_nan_index: int  # -1 when NaN positions agree
    first_inf_index: int

    @classmethod
    def measure(cls, ref: torch.Tensor, custom: torch.Tensor, atol: float, rtol: float) -> _ValueStats:
        flat_ref, flat_custom = ref.reshape(-1), custom.reshape(-1)
        rows = [
            _chunk_stats(
                flat_ref[start : start + CHUNK_ELEMENTS],
                flat_custom[start : start + CHUNK_ELEMENTS],
                atol,
                rtol,
                start,
            )
            for start in range(0, flat_ref.numel(), CHUNK_ELEMENTS)
        ]
        table = torch.stack(rows).cpu().tolist()
        counts = [int(sum(row[i] for row in table)) for i in range(4)]
        max_abs_row = max(table, key=lambda row: row[4])
        failing_row = max(table, key=lambda row: row[7])
        first = [next((int(row[i]) for row in table if row[i] >= 0), -1) for i in (9, 10)]
        return cls(
            mismatch_count=counts[0],
            custom_only_nan=counts[1],
            ref_only_nan=counts[2],
            inf_mismatch=counts[3],
            max_abs_error=max_abs_row[4],
            max_abs_index=int(max_abs_row[5]),
            max_rel_error=max(row[6] for row in table),
            worst_failing_error=failing_row[7],
            worst_failing_index=int(failing_row[8]),
            first_nan_index=first[0],
            first_inf_index=first[1],
        )

    def apply(
        self, result: OutputComparison, ref: torch.Tensor, custom: torch.Tensor, scalar: bool
    ) -> OutputComparison:
        if self.custom_only_nan or self.ref_only_nan:
            reason, worst = "nan", self.first_nan_index
        elif self.inf_mismatch:
            reason, worst = "inf", self.first_inf_index
        elif self.worst_failing_error >= 0:
            reason, worst = "values", self.worst_failing_index
        else:
            reason, worst = "", self.max_abs_index
        ref_value, custom_value = ref.reshape(-1)[worst].item(), custom.reshape(-1)[worst].item()
        result = attrs.evolve(
            result,
            passed=not reason,
            reason=reason,
            max_abs_error=self.max_abs_error,
            max_rel_error=self.max_rel_error,
            mismatch_count=self.mismatch_count,
            mismatch_fraction=self.mismatch_count / result.numel,
            worst_index=_unravel(worst, list(ref.shape)),
            ref_value_at_worst=_json_float(ref_value),
            custom_value_at_worst=_json_float(custom_value),
        )
        where = "" if scalar or ref.dim() == 0 else f" at {_unravel(worst, list(ref.shape))}"
        values = f"got {_fmt(custom_value)}, expected {_fmt(ref_value)}"
        return attrs.evolve(result, detail=f"{result.path}: {self._sentence(result, where, values)}")

    def _sentence(self, result: OutputComparison, where: str, values: str) -> str:
        count = f"{result.mismatch_count}/{result.numel}"
        exact = result.atol == 0 and result.rtol == 0
        tolerance = f"atol {result.atol:g}, rtol {result.rtol:g}"
        if result.reason == "nan":
            parts = []
            if self.custom_only_nan:
                parts.append(
                    f"NaN at {self.custom_only_nan}/{result.numel} elements where the reference is not"
                )
            if self.ref_only_nan:
                parts.append(f"reference is NaN at {self.ref_only_nan} elements where the output is not")
            return f"{'; '.join(parts)}; first{where}: {values}"
        if result.reason == "inf":
            return (
                f"infinities differ from the reference at {self.inf_mismatch}/{result.numel} elements; "
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
                f"{count} elements outside tolerance ({tolerance}), max abs err {max_abs}; "
                f"worst{where}: {values}"
            )
        if exact:
            return "exact match"
        return f"match (max abs err {_fmt_error(result.max_abs_error)}, {tolerance})"


def _chunk_stats(
    ref: torch.Tensor, custom: torch.Tensor, atol: float, rtol: float, offset: int
) -> torch.Tensor:
    """One row of reductions for _ValueStats.measure (float64, stays on the device)."""
    inexact = ref.dtype.is_floating_point or ref.dtype.is_complex
    wide = torch.complex128 if ref.dtype.is_complex else torch.float64
    ref64, custom64 = ref.to(wide), custom.to(wide)
    ref_abs = ref64.abs()
    diff = (custom64 - ref64).abs()
    if inexact:
        ref_nan, custom_nan = torch.isnan(ref64), torch.isnan(custom64)
        ref_inf, custom_inf = torch.isinf(ref64), torch.isinf(custom64)
        nan_bad = ref_nan ^ custom_nan
        same_inf = ref_inf & custom_inf & (ref64 == custom64)
        inf_bad = (ref_inf | custom_inf) & ~same_inf & ~ref_nan & ~custom_nan
        finite = torch.isfinite(ref64) & torch.isfinite(custom64)
        diff = torch.where(finite, diff, 0.0)
        value_bad = finite & (diff > atol + rtol * ref_abs)
        mismatch = nan_bad | inf_bad | value_bad
        rel = torch.where(finite, diff / ref_abs.clamp_min(REL_ERROR_FLOOR), 0.0)
        custom_only_nan, ref_only_nan = (custom_nan & ~ref_nan).sum(), (ref_nan & ~custom_nan).sum()
        first_nan, first_inf = _first_true(nan_bad, offset), _first_true(inf_bad, offset)
        inf_count = inf_bad.sum()
    else:
        value_bad = (ref != custom) if atol == 0 and rtol == 0 else diff > atol + rtol * ref_abs
        mismatch = value_bad
        rel = diff / ref_abs.clamp_min(REL_ERROR_FLOOR)
        zero = torch.zeros((), dtype=torch.int64, device=ref.device)
        custom_only_nan = ref_only_nan = inf_count = zero
        first_nan = first_inf = torch.full((), -1.0, dtype=torch.float64, device=ref.device)
    max_abs, max_abs_index = diff.max(dim=0)
    failing_error, failing_index = torch.where(value_bad, diff, -1.0).max(dim=0)
    row = [
        mismatch.sum(),
        custom_only_nan,
        ref_only_nan,
        inf_count,
        max_abs,
        max_abs_index + offset,
        rel.max(),
        failing_error,
        failing_index + offset,
        first_nan,
        first_inf,
    ]
    return torch.stack([value.to(torch.float64) for value in row])


def _first_true(mask: torch.Tensor, offset: int) -> torch.Tensor:
    """Flat index (plus offset) of the first True in mask, or -1; as a float64 device scalar."""
    any_true, index = mask.to(torch.int8).max(dim=0)
    return torch.where(any_true > 0, index + offset, -1).to(torch.float64)


def _unravel(flat_index: int, shape: list[int]) -> list[int]:
    index = []
    for size in reversed(shape):
        flat_index, position = divmod(flat_index, size)
        index.append(position)
    return index[::-1]


def _json_float(value: Any) -> float | None:
    """A finite float for the JSON result (NaN/inf cannot travel in JSON; the detail text shows them)."""
    if isinstance(value, complex):
        return None
    number = float(value)
    return number if abs(number) != float("inf") and number == number else None


def _fmt_error(error: float) -> str:
    return "0" if error == 0 else f"{error:.1e}"


def _fmt(value: Any) -> str:
    if isinstance(value, (bool, int)):
        return str(value)
    if isinstance(value, complex):
        return f"{value:.6g}"
    return f"{float(value):.6g}"
