"""One side's timing across the rounds the parent asks for: the call kept between rounds (inputs loaded and bytes
counted once), a round measured with the worker's bound clocks, and what the parent needs to judge it."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

import attrs
import torch

from kernel_eval.protocol.messages import TimeParams, TimeResult
from kernel_eval.stages import timing
from kernel_eval.stages.timing.floor import count_bytes
from kernel_eval.worker.runtime import Runtime


@attrs.define
class Session:
    key: Hashable
    call: Callable[[], object]
    bytes_moved: int


def session(key: Hashable, model: Any, args: list[Any], kwargs: dict[str, Any]) -> Session:
    """A side's timing call on these inputs; forward runs once here to count the bytes it moves."""

    def call() -> object:
        with torch.no_grad():
            return model(*args, **kwargs)

    output = call()
    return Session(key, call, count_bytes(args, kwargs, model, output))


def measure(runtime: Runtime, current: Session, params: TimeParams) -> TimeResult:
    timer = runtime.timer
    measured = timer.round(current.call, params.count, warmup=params.warmup)
    return TimeResult(
        measured=measured,
        method=timing.method_description(runtime.device),
        meaningful=timing.timings_meaningful(runtime.device),
        bytes_moved=current.bytes_moved,
        copy_bandwidth=timer.copy_bandwidth(),
        tampered=runtime.clocks.check(),
    )
