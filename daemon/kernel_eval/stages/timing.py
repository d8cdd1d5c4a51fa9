"""Timing: one method for both sides, so the speedup compares like with like."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from kernel_eval.request import MIN_PERF_TRIALS
from kernel_eval.result import TimingStats

if TYPE_CHECKING:  # the parent summarises without loading torch; only workers run benchmarks
    import torch

MIN_L2_FLUSH_BYTES = 64 * 1024 * 1024
CPU_TIMING_CAVEAT = "CPU timings (Triton interpreter / eager CPU) are not meaningful for GPU kernels"
_TIME_FLOOR_MS = 1e-6

_l2_flush_buffers: dict[int, torch.Tensor] = {}


def summarize(times_ms: list[float]) -> TimingStats:
    if not times_ms:
        raise ValueError("no timings to summarize")
    if len(times_ms) == 1:
        p25 = p75 = times_ms[0]
        std = 0.0
    else:
        p25, _, p75 = statistics.quantiles(times_ms, n=4, method="inclusive")
        std = statistics.stdev(times_ms)
    return TimingStats(
        median_ms=statistics.median(times_ms),
        iqr_ms=p75 - p25,
        mean_ms=statistics.fmean(times_ms),
        std_ms=std,
        min_ms=min(times_ms),
        max_ms=max(times_ms),
        trials=len(times_ms),
    )


def effective_trials(asked: int) -> tuple[int, str | None]:
    """The number of timed trials to run, and a note when it is more than asked."""
    if asked >= MIN_PERF_TRIALS:
        return asked, None
    return MIN_PERF_TRIALS, (
        f"asked for {asked} timed trials; used {MIN_PERF_TRIALS}, the minimum for a speedup"
    )


def benchmark(fn: Callable[[], object], device: torch.device, warmup: int, trials: int) -> list[float]:
    """Milliseconds per call of fn, one entry per timed trial, after `warmup` untimed calls."""
    if device.type == "cuda":
        return _benchmark_cuda(fn, device, warmup, trials)
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(trials):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1e3)
    return times


def _benchmark_cuda(fn: Callable[[], object], device: torch.device, warmup: int, trials: int) -> list[float]:
    import torch

    with torch.cuda.device(device):
        flush = _l2_flush_buffer(device)
        for _ in range(warmup):
            fn()
            torch.cuda.synchronize()
        times = []
        for _ in range(trials):
            flush.zero_()
            torch.cuda.synchronize()
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            torch.cuda.synchronize()  # every stream on the device: side-stream work counts
            end.record()
            end.synchronize()
            times.append(start.elapsed_time(end))
        return times


def _l2_flush_buffer(device: torch.device) -> torch.Tensor:
    import torch

    index = device.index if device.index is not None else torch.cuda.current_device()
    if index not in _l2_flush_buffers:
        _l2_flush_buffers[index] = torch.empty(
            _l2_flush_bytes(index), dtype=torch.int8, device=torch.device("cuda", index)
        )
    return _l2_flush_buffers[index]


def _l2_flush_bytes(index: int) -> int:
    import torch

    l2_bytes = int(getattr(torch.cuda.get_device_properties(index), "L2_cache_size", 0))
    return max(2 * l2_bytes, MIN_L2_FLUSH_BYTES)


def method_description(device: torch.device) -> str:
    if device.type == "cuda":
        flush_mib = _l2_flush_bytes(device.index if device.index is not None else 0) // (1024 * 1024)
        return (
            f"CUDA events around each call, closed by a device-wide synchronize (side streams count), "
            f"L2 flushed ({flush_mib} MiB) before each call; median of the timed trials"
        )
    return "time.perf_counter around each call on the CPU; median of the timed trials"


def timings_meaningful(device: torch.device) -> bool:
    return device.type == "cuda"


def timing_caveat(device: torch.device) -> str | None:
    """Why the timings should not be read as GPU kernel speed, or None when they can."""
    return None if timings_meaningful(device) else CPU_TIMING_CAVEAT


def speedup(ref: TimingStats, custom: TimingStats) -> float:
    """Reference median / custom median (> 1: the custom kernel is faster); finite even for zero times."""
    return max(ref.median_ms, _TIME_FLOOR_MS) / max(custom.median_ms, _TIME_FLOOR_MS)
