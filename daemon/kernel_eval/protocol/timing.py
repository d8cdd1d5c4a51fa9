"""What a timing round asks and answers on either side. Each side extends both with its own fields (see
`protocol.judge` and `protocol.candidate`)."""

from __future__ import annotations

import attrs

from kernel_eval.protocol.messages import Params, R
from kernel_eval.stages.timing.fresh import FreshTimes
from kernel_eval.stages.timing.record import Round


@attrs.define
class TimeResult:
    """One round's samples, and the bytes one forward moves."""

    # this round's samples (see kernel_eval.stages.timing.record)
    measured: Round
    # inputs, parameters and outputs of one forward: the numerator of the physical floor
    bytes_moved: int = 0
    # in a round with fresh sets: call times on seen and fresh values (stages/timing/fresh.py)
    fresh: FreshTimes | None = None


@attrs.define
class TimeParams(Params[R]):
    """One round of `count` samples of forward, rotating the values of several input sets through the same tensors.

    With `warmup` > 0 (a side's first round) it first warms up until times settle.
    """

    METHOD = "time"
    count: int
    warmup: int = 0
