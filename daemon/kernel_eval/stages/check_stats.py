"""Reductions over every element of a reference tensor and a custom one, computed on their device.

Each chunk of elements is reduced to one ChunkStats of device scalars. The chunks are stacked into one tensor,
copied to the host at once, and read back as ChunkStats of floats, so every value is read by its name.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Generic, NamedTuple, TypeVar

import attrs
import torch

# |ref| below this counts as this when computing relative errors.
REL_ERROR_FLOOR = 1e-12

_Value = TypeVar("_Value")


class ChunkStats(NamedTuple, Generic[_Value]):
    """The reductions over one chunk: device scalars while computed, floats once on the host.

    Indices are flat indices into the whole tensor, carried as floats.
    """

    mismatch_count: _Value
    custom_only_nan: _Value
    ref_only_nan: _Value
    inf_mismatch: _Value
    max_abs_error: _Value
    max_abs_index: _Value
    max_rel_error: _Value
    # -1 when no element is outside the tolerance.
    worst_failing_error: _Value
    worst_failing_index: _Value
    # -1 when NaN positions agree.
    first_nan_index: _Value
    # -1 when infinities agree.
    first_inf_index: _Value


@attrs.frozen
class ValueStats:
    """Reductions over all elements, combined from the chunks."""

    mismatch_count: int
    custom_only_nan: int
    ref_only_nan: int
    inf_mismatch: int
    max_abs_error: float
    max_abs_index: int
    max_rel_error: float
    # -1 when no element is outside the tolerance.
    worst_failing_error: float
    worst_failing_index: int
    # -1 when NaN positions agree.
    first_nan_index: int
    # -1 when infinities agree.
    first_inf_index: int

    @classmethod
    def of_chunks(cls, chunks: list[ChunkStats[float]]) -> ValueStats:
        """Sums of the counts, the largest errors with their indices, and the first NaN and inf disagreements."""
        max_abs = max(chunks, key=lambda chunk: chunk.max_abs_error)
        failing = max(chunks, key=lambda chunk: chunk.worst_failing_error)
        return cls(
            mismatch_count=int(sum(chunk.mismatch_count for chunk in chunks)),
            custom_only_nan=int(sum(chunk.custom_only_nan for chunk in chunks)),
            ref_only_nan=int(sum(chunk.ref_only_nan for chunk in chunks)),
            inf_mismatch=int(sum(chunk.inf_mismatch for chunk in chunks)),
            max_abs_error=max_abs.max_abs_error,
            max_abs_index=int(max_abs.max_abs_index),
            max_rel_error=max(chunk.max_rel_error for chunk in chunks),
            worst_failing_error=failing.worst_failing_error,
            worst_failing_index=int(failing.worst_failing_index),
            first_nan_index=_first_found(chunk.first_nan_index for chunk in chunks),
            first_inf_index=_first_found(chunk.first_inf_index for chunk in chunks),
        )


def measure(
    ref: torch.Tensor, custom: torch.Tensor, atol: float, rtol: float, chunk_elements: int
) -> ValueStats:
    """ValueStats of custom against ref, chunk_elements at a time, with one copy to the host."""
    flat_ref, flat_custom = ref.reshape(-1), custom.reshape(-1)
    rows = [
        _stacked(
            _chunk_stats(
                flat_ref[start : start + chunk_elements],
                flat_custom[start : start + chunk_elements],
                atol,
                rtol,
                start,
            )
        )
        for start in range(0, flat_ref.numel(), chunk_elements)
    ]
    table = torch.stack(rows).cpu().tolist()
    return ValueStats.of_chunks([ChunkStats(*values) for values in table])


def _first_found(indices: Iterable[float]) -> int:
    """The first index that is not -1, or -1."""
    return next((int(index) for index in indices if index >= 0), -1)


def _stacked(chunk: ChunkStats[torch.Tensor]) -> torch.Tensor:
    """The chunk's values as one float64 device tensor, in field order."""
    return torch.stack([value.to(torch.float64) for value in chunk])


def _chunk_stats(
    ref: torch.Tensor, custom: torch.Tensor, atol: float, rtol: float, offset: int
) -> ChunkStats[torch.Tensor]:
    """The reductions over one chunk, as device scalars."""
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
    return ChunkStats(
        mismatch_count=mismatch.sum(),
        custom_only_nan=custom_only_nan,
        ref_only_nan=ref_only_nan,
        inf_mismatch=inf_count,
        max_abs_error=max_abs,
        max_abs_index=max_abs_index + offset,
        max_rel_error=rel.max(),
        worst_failing_error=failing_error,
        worst_failing_index=failing_index + offset,
        first_nan_index=first_nan,
        first_inf_index=first_inf,
    )


def _first_true(mask: torch.Tensor, offset: int) -> torch.Tensor:
    """Flat index (plus offset) of the first True in mask, or -1, as a float64 device scalar."""
    any_true, index = mask.to(torch.int8).max(dim=0)
    return torch.where(any_true > 0, index + offset, -1).to(torch.float64)
