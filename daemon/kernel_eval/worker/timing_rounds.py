"""One side's timing across the rounds the parent asks for: the rotation of input sets kept between rounds (inputs
loaded and bytes counted once), a round measured with the worker's bound clocks, and what the parent needs."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

import attrs
import torch

from kernel_eval.errors import fail
from kernel_eval.protocol.messages import TimeParams, TimeResult
from kernel_eval.result import Phase
from kernel_eval.stages import timing
from kernel_eval.stages.timing.floor import count_bytes
from kernel_eval.stages.timing.rotation import InputSet, Rotation
from kernel_eval.worker import payload
from kernel_eval.worker.runtime import Runtime


@attrs.define
class Session:
    key: Hashable
    rotation: Rotation
    bytes_moved: int


def session(key: Hashable, model: Any, sets: Sequence[InputSet]) -> Session:
    """A side's timing on these input sets; forward runs once here to count the bytes it moves."""

    def forward(*args: Any, **kwargs: Any) -> object:
        with torch.no_grad():
            return model(*args, **kwargs)

    try:
        rotation = Rotation(forward, sets)
    except ValueError as exc:
        raise fail(Phase.TIME, "timing_inputs", f"cannot time on fresh inputs: {exc}") from None
    output = rotation()
    return Session(key, rotation, count_bytes(rotation.live_args, rotation.live_kwargs, model, output))


def measure(runtime: Runtime, current: Session, params: TimeParams) -> TimeResult:
    timer = runtime.timer
    rotation = current.rotation
    rotation.keep, rotation.kept = params.keep, []
    measured = timer.round(rotation, params.count, warmup=params.warmup, hooks=rotation)
    kept, kept_sets = [], []
    if params.keep:
        missing = sorted(set(range(len(rotation.sets))) - {index for index, _ in rotation.kept})
        if missing:
            raise ValueError(
                f"a keep round of {params.count} calls left input sets {missing} without an output"
            )
        kept = [payload.save_output(output, Phase.TIME) for _, output in rotation.kept]
        kept_sets = [index for index, _ in rotation.kept]
    rotation.kept = []
    return TimeResult(
        measured=measured,
        method=timing.method_description(runtime.device),
        meaningful=timing.timings_meaningful(runtime.device),
        bytes_moved=current.bytes_moved,
        copy_bandwidth=timer.copy_bandwidth(),
        tampered=runtime.clocks.check(),
        kept=kept,
        kept_sets=kept_sets,
    )
