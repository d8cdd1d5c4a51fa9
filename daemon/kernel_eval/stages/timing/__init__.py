"""Timing: one method for both sides, so the speedup compares like with like.

stats (median, its interval, speedup and its interval) · sampling (the adaptive, interleaved stop rule) ·
clocks (tamper-evident bound timers) · floor (bytes over copy bandwidth) · trace (CUPTI records per call) ·
cuda / timer (the measuring, in a worker) · rotation (fresh inputs while timing) · assemble (the user's Timing).
Importing this package loads no torch: the parent summarises plain lists.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kernel_eval.request import MIN_PERF_TRIALS
from kernel_eval.stages.timing.assemble import Bytes, assemble, method
from kernel_eval.stages.timing.sampling import StopRule, interleave
from kernel_eval.stages.timing.stats import median_ci, speedup, speedup_ci95, summarize

if TYPE_CHECKING:
    from collections.abc import Callable

    import torch

CPU_TIMING_CAVEAT = "CPU timings (Triton interpreter / eager CPU) are not meaningful for GPU kernels"

__all__ = [
    "CPU_TIMING_CAVEAT",
    "Bytes",
    "StopRule",
    "assemble",
    "benchmark",
    "effective_trials",
    "interleave",
    "median_ci",
    "method",
    "method_description",
    "speedup",
    "speedup_ci95",
    "summarize",
    "timing_caveat",
    "timings_meaningful",
]


def effective_trials(asked: int) -> tuple[int, str | None]:
    """The least number of timed trials, and a note when it is more than asked."""
    if asked >= MIN_PERF_TRIALS:
        return asked, None
    return MIN_PERF_TRIALS, (
        f"asked for {asked} timed trials; used {MIN_PERF_TRIALS}, the minimum for a speedup"
    )


def benchmark(fn: Callable[[], object], device: torch.device, warmup: int, trials: int) -> list[float]:
    """Milliseconds per call of fn (the headline figure), `trials` samples after warm-up: one round of a Timer
    whose clocks are bound now. Workers bind theirs at startup instead (see timer.Timer)."""
    from kernel_eval.stages.timing.clocks import Clocks
    from kernel_eval.stages.timing.timer import Timer

    return Timer(device, Clocks.bind()).round(fn, trials, warmup=warmup).headline_ms


def method_description(device: torch.device) -> str:
    return method(timings_meaningful(device), device.type == "cuda", "")


def timings_meaningful(device: torch.device) -> bool:
    return device.type == "cuda"


def timing_caveat(device: torch.device) -> str | None:
    """Why the timings should not be read as GPU kernel speed, or None when they can."""
    return None if timings_meaningful(device) else CPU_TIMING_CAVEAT
