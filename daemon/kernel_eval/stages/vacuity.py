"""Vacuous checks: would a kernel that returns zeros, or any one constant, pass against this reference?

The question is answered by the comparison itself: each output leaf of the reference is compared, with the
same rule and tolerances the custom output meets, against constant outputs: zero, and the mean, median and most
common value of the same leaf in ANOTHER trial's reference output. A constant taken from another trial is one a
kernel could have hard-coded. One taken from this trial could not be known without computing it (a scalar loss
always matches its own value). Without another trial, the constants come from this output, and leaves of one
element are tried against zero only.

A leaf that a constant matches everywhere checks nothing. One that a constant matches at all but a few elements
in a thousand checks little. When every leaf with elements is vacuous, the verdict says nothing about the kernel:
that is an error flag. Otherwise the weak leaves are warnings.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import attrs
import torch

from kernel_eval.kinds import FlagKind
from kernel_eval.result import Flag, OutputComparison, Severity
from kernel_eval.stages.check import compare_outputs
from kernel_eval.stages.exactness import Float64Answer

NEARLY_ALL = 0.999  # a constant matching this fraction of a leaf's elements makes its check weak
MIN_ELEMENTS_FOR_WEAK = 1000  # below this, a single differing element is a real check
FIX = (
    "make get_inputs() produce inputs whose outputs vary and are well above the tolerance "
    "(scale the inputs up, avoid inputs that saturate or cancel)"
)


@attrs.frozen
class VacuousLeaf:
    path: str
    constant: str
    """The constant, as text."""
    matched_fraction: float
    """1.0: it passes outright."""


def vacuous_leaves(
    ref_output: Any,
    atol: float | None = None,
    rtol: float | None = None,
    exact: Float64Answer | None = None,
    other: Any = None,
) -> tuple[list[VacuousLeaf], int]:
    """The leaves a constant passes (or nearly passes), and how many tensor leaves with elements there are.

    other: another trial's reference output, where the non-zero constants come from.
    """
    found: list[VacuousLeaf] = []
    leaves = 0
    for comparisons in _constant_comparisons(ref_output, atol, rtol, exact, other):
        leaves += 1
        best = _best(comparisons)
        if best is not None:
            found.append(best)
    return found, leaves


def vacuity_flags(
    ref_output: Any,
    atol: float | None = None,
    rtol: float | None = None,
    exact: Float64Answer | None = None,
    other: Any = None,
) -> list[Flag]:
    """Flag(kind=FlagKind.VACUOUS_CHECK): an error when no leaf checks anything, else a warning per weak leaf."""
    found, leaves = vacuous_leaves(ref_output, atol, rtol, exact, other)
    passing = [leaf for leaf in found if leaf.matched_fraction == 1.0]
    if leaves and len(passing) == leaves:
        what = ", ".join(f"{leaf.path} (the constant {leaf.constant})" for leaf in passing)
        message = (
            f"vacuous check: a kernel returning constants would pass, since the reference's outputs are "
            f"matched by {what}; fix: {FIX}"
        )
        return [Flag(FlagKind.VACUOUS_CHECK, message, Severity.ERROR)]
    return [Flag(FlagKind.VACUOUS_CHECK, _weak_message(leaf), Severity.WARNING) for leaf in found]


def _weak_message(leaf: VacuousLeaf) -> str:
    if leaf.matched_fraction == 1.0:
        return f"weak check: {leaf.path} is matched by the constant {leaf.constant}; fix: {FIX}"
    share = f"{100 * leaf.matched_fraction:.2f}%"
    return (
        f"weak check: the constant {leaf.constant} matches {share} of {leaf.path}, so only the few other "
        f"elements test the kernel; fix: {FIX}"
    )


def _constant_comparisons(
    ref_output: Any, atol: float | None, rtol: float | None, exact: Float64Answer | None, other: Any
) -> list[list[tuple[OutputComparison, float]]]:
    """Per tensor leaf with elements: its comparison against each candidate constant, with the constant."""
    leaves = _tensor_leaves(ref_output)
    sources: list[torch.Tensor | None] = list(_tensor_leaves(other)) if other is not None else []
    if len(sources) != len(leaves):
        sources = [leaf if leaf.numel() > 1 else None for leaf in leaves]
    per_leaf: list[list[tuple[OutputComparison, float]]] = []
    for candidate in range(len(_CANDIDATES)):
        constants: list[float | None] = []
        outputs = _constants(ref_output, candidate, constants, iter(sources))
        comparisons = compare_outputs(ref_output, outputs, atol, rtol, exact)
        tensors = [c for c in comparisons if c.ref_shape is not None]  # in the order _constants met them
        per_leaf = per_leaf or [[] for _ in tensors]
        for leaf, comparison, constant in zip(per_leaf, tensors, constants, strict=True):
            if constant is not None:
                leaf.append((comparison, constant))
    return [leaf for leaf in per_leaf if leaf]


_CANDIDATES = ("zero", "mode", "mean", "median")


def _tensor_leaves(value: Any) -> list[torch.Tensor]:
    """The tensors of an output in the order compare_outputs walks it."""
    if isinstance(value, torch.Tensor) or _is_ndarray(value):
        return [value if isinstance(value, torch.Tensor) else torch.from_numpy(value)]
    if type(value) in (list, tuple):
        return [leaf for item in value for leaf in _tensor_leaves(item)]
    if isinstance(value, dict):
        return [leaf for item in value.values() for leaf in _tensor_leaves(item)]
    return []


def _constants(
    value: Any, candidate: int, made: list[float | None], sources: Iterator[torch.Tensor | None]
) -> Any:
    """value with every tensor replaced by a constant one. `made` gets each constant (None: leaf skipped)."""
    if isinstance(value, torch.Tensor) or _is_ndarray(value):
        tensor = value if isinstance(value, torch.Tensor) else torch.from_numpy(value)
        source = next(sources)
        which = _CANDIDATES[candidate]
        constant = _constant(tensor, source, which)
        made.append(constant)
        return tensor if constant is None else torch.full_like(tensor, constant)
    if type(value) in (list, tuple):
        return type(value)(_constants(item, candidate, made, sources) for item in value)
    if isinstance(value, dict):
        return {key: _constants(item, candidate, made, sources) for key, item in value.items()}
    return value


def _is_ndarray(value: Any) -> bool:
    return type(value).__module__ == "numpy" and type(value).__name__ == "ndarray"


def _constant(tensor: torch.Tensor, source: torch.Tensor | None, which: str) -> float | None:
    """The candidate constant for one leaf (zero, or taken from source). None: this candidate is skipped."""
    if tensor.numel() == 0 or tensor.is_complex():
        return None
    if which == "zero":
        return 0.0
    if source is None or source.numel() == 0 or source.is_complex():
        return None
    flat = source.detach().reshape(-1)
    if not flat.dtype.is_floating_point:
        return float(flat.to(torch.int64).mode().values.item()) if which == "mode" else None
    flat = flat[torch.isfinite(flat)].to(torch.float64)
    if flat.numel() == 0:
        return float("nan")  # NaN everywhere: a NaN output passes
    if which == "mode":
        return float(flat.mode().values.item())
    return float(flat.mean().item() if which == "mean" else flat.median().item())


def _best(comparisons: list[tuple[OutputComparison, float]]) -> VacuousLeaf | None:
    """The constant that matches most of the leaf, if it matches enough to make the check vacuous or weak."""
    best, constant = max(comparisons, key=lambda pair: (pair[0].passed, 1 - pair[0].mismatch_fraction))
    if best.passed:
        return VacuousLeaf(best.path, f"{constant:.6g}", 1.0)
    matched = 1 - best.mismatch_fraction
    if best.reason == "values" and best.numel >= MIN_ELEMENTS_FOR_WEAK and matched >= NEARLY_ALL:
        return VacuousLeaf(best.path, f"{constant:.6g}", matched)
    return None
