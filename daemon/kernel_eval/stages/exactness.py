"""Judge floating outputs against the exact answer: the reference run again in float64.

A fixed tolerance cannot tell a correct kernel that sums in another order from a wrong one: over K = 131,072 an
fp32 dot product in a different order moves the result by ~1e-5 of its size, while fp16-rounded operands move it
by ~3e-4, and a tolerance loose enough for the first lets the second through. Against the exact answer the two are
orders of magnitude apart, and the reference's own error says how hard the problem is in that dtype.

The rule, per floating output leaf (exact = the float64 answer, scale s = RMS of exact over finite elements):

    elementwise error   err(x)  = max_i |x_i - exact_i| / (|exact_i| + s)
    norm-wise error     nerr(x) = RMS(x - exact) / s
    passes when  err(custom)  <= FACTOR * max(err(ref),  floor)
            and  nerr(custom) <= FACTOR * max(nerr(ref), floor)

The denominator |exact_i| + s is relative for large elements and relative to the output's scale for elements
near zero (where cancellation makes relative error meaningless). The elementwise error catches one wrong element
in a huge tensor (an off-by-one, a dropped tail). The norm-wise error catches systematic error spread thinly over
every element (low-precision operands, a small bias), which the elementwise maximum, dominated by extremes, can
miss. Each is measured against the reference's error of the same kind, so one badly conditioned element where the
reference itself is far off widens the elementwise allowance only.

floor is the dtype's unit roundoff (2^-24 fp32, 2^-11 fp16, 2^-8 bf16): the error a correctly rounded answer
can have. It keeps exact references (relu, copies) from demanding bit-exact kernels.

FACTOR is 32 for fp32, where accumulation order dominates. Against torch's blocked CPU matmul over K = 131,072
(norm-wise, elementwise multiples of the reference's error): split-K 0.9x/0.6x, tiles of 16 3.7x/2.1x, a scalar
sequential sum 14-15x/7-11x (the worst correct order); fp16-rounded operands 600-670x, bf16-rounded 4100-5300x,
TF32-truncated 590-1800x, a 1e-3 bias 560-2400x, one term skipped 7700x. FACTOR is 8 for fp16/bf16, where output
rounding dominates: fp32 accumulation, or another formula in the output's dtype, measured 0.2-2.1x. Accumulating
a K = 4096 matmul in fp16/bf16 itself measured 8-9x the floor (and 17x the reference) elementwise.
benchmarks/check_accuracy.py prints these ratios, and tests/test_exactness.py holds the cases.

Where the float64 answer cannot be had (integer outputs, an op without a float64 kernel, a reference that casts
its result back to a low-precision dtype, a float64 reference, outputs identically zero), the caller falls back to
the per-dtype tolerances of stages/check.py. atol/rtol given by the user always win.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator
from typing import Any, Generic, NamedTuple, TypeVar

import attrs
import torch

from kernel_eval.stages.inputs import clone_tree, to_float64

CHUNK_ELEMENTS = 1 << 24  # bounds the float64 temporaries of one pass (~0.5 GiB at most)
FP32_FACTOR = 32.0
LOW_PRECISION_FACTOR = 8.0


def factor(dtype: torch.dtype) -> float:
    """How many times the reference's error (or the floor) a custom output may have."""
    return FP32_FACTOR if dtype == torch.float32 else LOW_PRECISION_FACTOR


def floor(dtype: torch.dtype) -> float:
    """Unit roundoff of dtype: the least error the rule ever demands."""
    return float(torch.finfo(dtype).eps) / 2


@attrs.frozen
class Float64Answer:
    """The reference's output computed in float64, or None with the reason it could not be."""

    output: Any = None
    note: str = ""

    @property
    def available(self) -> bool:
        return not self.note


class Float64Reference:
    """A float64 copy of the reference model, made on first use and kept for every later trial."""

    def __init__(self, model: Any) -> None:
        self._model = model
        self._wide: Any = None
        self._note = ""

    def answer(self, args: list[Any], kwargs: dict[str, Any]) -> Float64Answer:
        """The model's output on float64 copies of the floating inputs (integer inputs cloned as they are)."""
        wide = self._widened()
        if wide is None:
            return Float64Answer(note=self._note)
        try:
            with _float64_default(), torch.no_grad():
                output = wide(*to_float64(clone_tree(args)), **to_float64(clone_tree(kwargs)))
        except Exception as exc:
            return Float64Answer(note=f"the reference does not run in float64 ({_one_line(exc)})")
        return Float64Answer(output=_detached(output))

    def _widened(self) -> Any:
        if self._wide is None and not self._note:
            try:
                self._wide = copy.deepcopy(self._model).double()
            except Exception as exc:
                self._note = f"the reference model cannot be copied to float64 ({_one_line(exc)})"
        return self._wide


_REDUCED_PRECISION_FLAGS: tuple[tuple[Any, str], ...] = (
    (torch.backends.cuda.matmul, "allow_tf32"),
    (torch.backends.cudnn, "allow_tf32"),
    (torch.backends.cuda.matmul, "allow_fp16_reduced_precision_reduction"),
    (torch.backends.cuda.matmul, "allow_bf16_reduced_precision_reduction"),
)


@contextlib.contextmanager
def full_precision() -> Iterator[None]:
    """The reference's own-dtype run for the check: no TF32 (cuDNN convolutions default to it) and no reduced-
    precision GEMM reductions, so its error is its dtype's and not TF32's, which would widen the allowance 30x.

    Flags set through torch's newer fp32_precision API cannot be read this way. They are then left alone.
    """
    try:
        saved = [getattr(owner, name) for owner, name in _REDUCED_PRECISION_FLAGS]
    except RuntimeError:
        saved = None
    if saved is None:
        yield
        return
    try:
        for owner, name in _REDUCED_PRECISION_FLAGS:
            setattr(owner, name, False)
        yield
    finally:
        for (owner, name), value in zip(_REDUCED_PRECISION_FLAGS, saved, strict=True):
            setattr(owner, name, value)


@contextlib.contextmanager
def _float64_default() -> Iterator[None]:
    """Tensors the forward creates itself (torch.zeros(...)) are float64 too, like its inputs."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        yield
    finally:
        torch.set_default_dtype(previous)


def _detached(output: Any) -> Any:
    if isinstance(output, torch.Tensor):
        return output.detach()
    if isinstance(output, (list, tuple)):
        return type(output)(_detached(item) for item in output) if type(output) in (list, tuple) else output
    if isinstance(output, dict):
        return {key: _detached(item) for key, item in output.items()}
    return output


def _one_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:160]}" if text else type(exc).__name__


def unusable(ref: torch.Tensor, exact: Any) -> str:
    """Why exact cannot judge this reference leaf ("" when it can)."""
    if not ref.dtype.is_floating_point:
        return f"{_name(ref.dtype)} outputs are compared exactly"
    if ref.dtype == torch.float64:
        return "the reference already computes in float64"
    if not isinstance(exact, torch.Tensor) or not exact.dtype.is_floating_point:
        return "the reference's float64 run returned no floating tensor here"
    if list(exact.shape) != list(ref.shape):
        return f"the reference's float64 run returned shape {list(exact.shape)}, not {list(ref.shape)}"
    if torch.finfo(exact.dtype).eps >= torch.finfo(ref.dtype).eps:
        return f"the reference casts this output to {_name(exact.dtype)} even when run in float64"
    return ""


def _name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


@attrs.frozen
class ExactErrors:
    """Both sides' errors against the float64 answer, relative to its RMS (see the module docstring)."""

    scale: float
    ref_error: float
    custom_error: float
    ref_norm_error: float
    custom_norm_error: float
    allowed_error: float
    allowed_norm_error: float
    worst_index: int
    """Flat index of the custom side's largest elementwise error."""
    over_count: int
    """Elements whose custom error exceeds allowed_error."""

    @property
    def passed(self) -> bool:
        return self.custom_error <= self.allowed_error and self.custom_norm_error <= self.allowed_norm_error


def measure(exact: torch.Tensor, ref: torch.Tensor, custom: torch.Tensor) -> ExactErrors | None:
    """ExactErrors over the elements finite on all three sides. None when there are none or the answer is 0.

    Three chunked passes on the tensors' device: the scale, both sides' errors, then the elements over the
    allowance. NaN/inf positions are the caller's to compare.
    """
    if ref.numel() == 0:
        return None
    e, r, c = (t.reshape(-1) for t in (exact.to(ref.device), ref, custom.to(ref.device)))
    step = CHUNK_ELEMENTS
    chunks = [(e[at : at + step], r[at : at + step], c[at : at + step]) for at in range(0, e.numel(), step)]
    sums = _summed([_scale_sums(chunk) for chunk in chunks])
    squares, count = sums.square_sum, int(sums.finite_count)
    if count == 0 or squares == 0 or squares != squares or squares == float("inf"):
        return None
    scale = (squares / count) ** 0.5
    stacked = [torch.stack(_error_row(chunk, scale, index * step)) for index, chunk in enumerate(chunks)]
    rows = [_ErrorRow(*values) for values in torch.stack(stacked).cpu().tolist()]
    ref_error = max(row.ref_error for row in rows)
    worst_row = max(rows, key=lambda row: row.custom_error)
    ref_norm = (sum(row.ref_square_sum for row in rows) / count) ** 0.5 / scale
    custom_norm = (sum(row.custom_square_sum for row in rows) / count) ** 0.5 / scale
    allowed = factor(ref.dtype) * max(ref_error, floor(ref.dtype))
    allowed_norm = factor(ref.dtype) * max(ref_norm, floor(ref.dtype))
    over = sum(int(_over_count(chunk, scale, allowed).item()) for chunk in chunks)
    return ExactErrors(
        scale=scale,
        ref_error=ref_error,
        custom_error=worst_row.custom_error,
        ref_norm_error=ref_norm,
        custom_norm_error=custom_norm,
        allowed_error=allowed,
        allowed_norm_error=allowed_norm,
        worst_index=int(worst_row.custom_index),
        over_count=over,
    )


_Chunk = tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # exact, ref, custom: flat slices of one range


def _wide(chunk: _Chunk) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The chunk in float64 with non-finite positions (on any side) zeroed, and the finite mask."""
    e, r, c = (t.to(torch.float64) for t in chunk)
    finite = torch.isfinite(e) & torch.isfinite(r) & torch.isfinite(c)
    zero = torch.zeros((), dtype=torch.float64, device=e.device)
    return torch.where(finite, e, zero), torch.where(finite, r, zero), torch.where(finite, c, zero), finite


_Value = TypeVar("_Value")


class _ScaleSums(NamedTuple, Generic[_Value]):
    """What the scale is made of: device scalars per chunk, floats once summed on the host."""

    square_sum: _Value
    finite_count: _Value


class _ErrorRow(NamedTuple, Generic[_Value]):
    """One chunk's errors against the float64 answer: device scalars, then floats on the host."""

    ref_error: _Value
    custom_error: _Value
    # Flat index of custom_error's element, as a float.
    custom_index: _Value
    ref_square_sum: _Value
    custom_square_sum: _Value


def _scale_sums(chunk: _Chunk) -> _ScaleSums[torch.Tensor]:
    e, _, _, finite = _wide(chunk)
    return _ScaleSums(square_sum=e.square().sum(), finite_count=finite.sum().to(torch.float64))


def _summed(chunks: list[_ScaleSums[torch.Tensor]]) -> _ScaleSums[float]:
    """The chunks' sums added on the device, then copied to the host at once."""
    total = torch.stack([torch.stack(chunk) for chunk in chunks]).sum(dim=0).cpu().tolist()
    return _ScaleSums(*total)


def _error_row(chunk: _Chunk, scale: float, offset: int) -> _ErrorRow[torch.Tensor]:
    e, r, c, _ = _wide(chunk)
    denominator = e.abs() + scale
    custom_error, custom_index = ((c - e).abs() / denominator).max(dim=0)
    return _ErrorRow(
        ref_error=((r - e).abs() / denominator).max(),
        custom_error=custom_error,
        custom_index=(custom_index + offset).to(torch.float64),
        ref_square_sum=(r - e).square().sum(),
        custom_square_sum=(c - e).square().sum(),
    )


def _over_count(chunk: _Chunk, scale: float, allowed: float) -> torch.Tensor:
    e, _, c, _ = _wide(chunk)
    return ((c - e).abs() / (e.abs() + scale) > allowed).sum()
