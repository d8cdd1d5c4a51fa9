"""The physical floor: a forward must at least read its inputs and parameters and write its outputs once, so its
time cannot be below those bytes over the device's copy bandwidth. A time below the floor (with a margin) means the
work was skipped, remembered, or done where the timer does not look."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from kernel_eval.stages.timing.stats import TIME_FLOOR_MS

FLOOR_MARGIN = 1.5  # flag when the achieved bandwidth is over 1.5x what a plain device copy reaches


def count_bytes(*trees: Any) -> int:
    """Bytes held by the tensors in nested lists, tuples, dicts and modules (parameters and buffers), each storage
    counted once (an output aliasing an input, a tied weight, or views of one tensor are not counted twice)."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for tensor in _walk(trees):
        storage = tensor.untyped_storage()
        key = (storage.data_ptr(), storage.nbytes())
        if key in seen:
            continue
        seen.add(key)
        # a view counts the bytes it can reach, not its whole base
        total += min(tensor.numel() * tensor.element_size(), storage.nbytes())
    return total


def tensors(*trees: Any) -> list[Any]:
    """The tensors in nested lists, tuples and dicts, in order (module parameters and buffers included)."""
    return list(_walk(trees))


def _walk(value: Any) -> Iterable[Any]:
    import torch

    if isinstance(value, torch.Tensor):
        yield value
    elif isinstance(value, torch.nn.Module):
        yield from value.parameters()
        yield from value.buffers()
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _walk(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _walk(item)


@attrs.define(frozen=True)
class FloorCheck:
    """One side's position against the floor."""

    bytes_moved: int
    time_ms: float
    bandwidth_bytes_per_s: float

    @property
    def floor_ms(self) -> float:
        return floor_ms(self.bytes_moved, self.bandwidth_bytes_per_s)

    @property
    def percent_of_copy_bandwidth(self) -> float:
        """Achieved bandwidth (bytes / time) as % of the copy bandwidth. Over 100 is faster than a copy."""
        return 100.0 * self.floor_ms / max(self.time_ms, TIME_FLOOR_MS)  # finite: results are JSON

    @property
    def below(self) -> bool:
        return below_floor(self.time_ms, self.bytes_moved, self.bandwidth_bytes_per_s)


def floor_ms(bytes_moved: int, bandwidth_bytes_per_s: float) -> float:
    return 0.0 if bandwidth_bytes_per_s <= 0 else 1e3 * bytes_moved / bandwidth_bytes_per_s


def below_floor(
    time_ms: float, bytes_moved: int, bandwidth_bytes_per_s: float, margin: float = FLOOR_MARGIN
) -> bool:
    """True when the time is under the floor divided by the margin."""
    floor = floor_ms(bytes_moved, bandwidth_bytes_per_s)
    return floor > 0 and time_ms * margin < floor


def below_floor_message(custom: FloorCheck, reference: FloorCheck) -> str | None:
    """A flag's text when the custom side beats the floor and the reference does not (when both do, the byte count
    is what is wrong: the model need not read all it is given)."""
    if not custom.below or reference.below:
        return None
    return (
        f"the custom forward took {custom.time_ms * 1e3:.3g} µs, below the {custom.floor_ms * 1e3:.3g} µs it needs "
        f"just to move its {custom.bytes_moved / 1e6:.3g} MB of inputs, parameters and outputs at the measured copy "
        f"bandwidth ({custom.percent_of_copy_bandwidth:.0f} % of it): work was skipped, remembered or left running"
    )
