"""One side's timing across the rounds the parent asks for: the rotation of input sets kept between rounds (inputs
loaded and bytes counted once), a round measured with the worker's bound clocks, and what the parent needs from that
side: facts about the device from the reference's rounds, an audit from the custom side's."""

from __future__ import annotations

import random
import secrets
from collections.abc import Hashable, Sequence
from typing import Any

import attrs
import torch

from kernel_eval.errors import fail
from kernel_eval.kinds import MessageKind
from kernel_eval.protocol.candidate import CandidateTimeParams, CandidateTimeResult
from kernel_eval.protocol.judge import JudgeTimeParams, JudgeTimeResult
from kernel_eval.result import Phase
from kernel_eval.stages import timing
from kernel_eval.stages.timing import fresh, l2, threads
from kernel_eval.stages.timing.floor import count_bytes
from kernel_eval.stages.timing.record import Round
from kernel_eval.stages.timing.rotation import InputSet, Rotation
from kernel_eval.stages.timing.timer import Timer
from kernel_eval.worker import payload
from kernel_eval.worker.runtime import Runtime


@attrs.define
class Session:
    key: Hashable
    rotation: Rotation
    bytes_moved: int


def session(key: Hashable, model: Any, sets: Sequence[InputSet], audit: bool = False) -> Session:
    """A side's timing on these input sets. Forward runs once here to count the bytes it moves. With `audit` (the
    custom side) outputs are kept for the judge (see rotation.py)."""

    def forward(*args: Any, **kwargs: Any) -> object:
        with torch.no_grad():
            return model(*args, **kwargs)

    try:
        rotation = Rotation(forward, sets, audit)
    except ValueError as exc:
        raise fail(Phase.TIME, MessageKind.TIMING_INPUTS, f"cannot time on fresh inputs: {exc}") from None
    output = rotation()
    return Session(key, rotation, count_bytes(rotation.live_args, rotation.live_kwargs, model, output))


def measure_reference(
    runtime: Runtime, current: Session, params: JudgeTimeParams, fresh_sets: Sequence[InputSet] = ()
) -> JudgeTimeResult:
    """One round of the reference, with the device facts the parent reads from this side. With `fresh_sets`, the
    same kind of round as the custom side's on fresh values: the yardstick the parent reads that round against."""
    measured, plan = _round(runtime.timer, current.rotation, params.count, params.warmup, fresh_sets)
    return JudgeTimeResult(
        measured=measured,
        bytes_moved=current.bytes_moved,
        fresh=_fresh_times(runtime.timer, measured, plan, len(current.rotation.sets)) if plan else None,
        method=timing.method_description(runtime.device),
        meaningful=timing.timings_meaningful(runtime.device),
        copy_bandwidth=runtime.timer.copy_bandwidth(),
    )


def measure(
    runtime: Runtime,
    current: Session,
    params: CandidateTimeParams,
    fresh_sets: Sequence[InputSet] = (),
    user_folder: str = "",
) -> CandidateTimeResult:
    """One round of the custom side, with its audit. With `fresh_sets`, a round that follows a schedule mixing them
    in (see fresh.py). Its name is one the clocks watch (clocks.HARNESS): the custom code may not replace it."""
    timer = runtime.timer
    rotation = current.rotation
    measured, plan = _round(timer, rotation, params.count, params.warmup, fresh_sets)
    kept, kept_sets = [], []
    if params.keep:
        taken = rotation.take_kept()
        kept = [payload.save_output(output, Phase.TIME) for _, output in taken]
        kept_sets = [index for index, _ in taken]
    return CandidateTimeResult(
        measured=measured,
        bytes_moved=current.bytes_moved,
        tampered=runtime.clocks.check(),
        kept=kept,
        kept_sets=kept_sets,
        fresh=_fresh_times(timer, measured, plan, len(rotation.sets)) if plan is not None else None,
        # all rounds': the last one reports
        l2_persistence=l2.take_found() if params.keep else [],
        threads=threads.started_since(runtime.clocks.threads, user_folder) if rotation.audit else [],
    )


def _round(
    timer: Timer, rotation: Rotation, count: int, warmup: int, fresh_sets: Sequence[InputSet]
) -> tuple[Round, fresh.Schedule | None]:
    """One timed round on the rotation; with `fresh_sets`, on a schedule that mixes them in at random places."""
    plan = None
    if fresh_sets:
        loops = 2 if timer.is_cuda else 1  # CUDA: a profiled loop, then an event-timed loop
        plan = fresh.schedule(
            len(rotation.sets), len(fresh_sets) // loops, loops, random.Random(secrets.randbits(64))
        )
        count = plan.calls_per_loop
    if warmup > 0:  # a new evaluation's first round
        rotation.restart_sample()
    try:
        rotation.plan(plan, fresh_sets)
    except ValueError as exc:
        raise fail(Phase.TIME, MessageKind.TIMING_INPUTS, f"cannot time on fresh inputs: {exc}") from None
    try:
        return timer.round(rotation, count, warmup=warmup, hooks=rotation), plan
    finally:
        rotation.plan()


def _fresh_times(timer: Timer, measured: Round, plan: fresh.Schedule, seen: int) -> fresh.FreshTimes:
    figures: list[tuple[str, list[float | None]]]
    if timer.is_cuda:
        gpu = [t.device_ns / 1e6 if t.marker_found else None for t in timer.last_traces]
        figures = [("gpu_kernel_time", gpu), ("end_to_end", list(measured.end_to_end_ms))]
    else:
        figures = [("cpu", list(measured.end_to_end_ms))]
    return fresh.FreshTimes(fresh.split(plan, seen, figures), list(measured.gap_ms))
