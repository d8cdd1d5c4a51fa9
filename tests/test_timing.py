"""Timing: statistics, the benchmark loop and the notes a user sees next to a speedup."""

from __future__ import annotations

import time

import pytest
import torch

from kernel_eval.request import MIN_PERF_TRIALS
from kernel_eval.result import TimingStats
from kernel_eval.stages.timing import (
    CPU_TIMING_CAVEAT,
    benchmark,
    effective_trials,
    method_description,
    speedup,
    summarize,
    timing_caveat,
    timings_meaningful,
)

CPU = torch.device("cpu")


def stats(median: float) -> TimingStats:
    return TimingStats(median, 0.0, median, 0.0, median, median, 10)


def test_summarize_known_list():
    result = summarize([4.0, 1.0, 3.0, 2.0, 10.0])
    assert result.median_ms == 3.0
    assert result.iqr_ms == pytest.approx(4.0 - 2.0)  # linear-interpolated p75 - p25
    assert result.mean_ms == pytest.approx(4.0)
    assert result.std_ms == pytest.approx(3.5355339, rel=1e-6)  # sample standard deviation
    assert (result.min_ms, result.max_ms, result.trials) == (1.0, 10.0, 5)


def test_summarize_interpolates_quartiles_like_numpy():
    times = [1.0, 2.0, 3.0, 4.0]
    assert summarize(times).iqr_ms == pytest.approx(1.5)  # numpy.percentile: 3.25 - 1.75
    assert summarize(times).median_ms == 2.5


def test_summarize_single_and_empty():
    single = summarize([2.5])
    assert (single.median_ms, single.iqr_ms, single.std_ms, single.trials) == (2.5, 0.0, 0.0, 1)
    with pytest.raises(ValueError, match="no timings"):
        summarize([])


def test_effective_trials_raises_to_minimum_with_note():
    assert MIN_PERF_TRIALS == 10
    assert effective_trials(3) == (10, "asked for 3 timed trials; used 10, the minimum for a speedup")
    assert effective_trials(10) == (10, None)
    assert effective_trials(50) == (50, None)


def test_benchmark_cpu_returns_one_positive_time_per_trial():
    calls = []

    def work():
        calls.append(1)
        time.sleep(0.002)

    times = benchmark(work, CPU, warmup=2, trials=5)
    assert len(times) == 5 and len(calls) == 7
    assert all(t >= 1.5 for t in times)  # milliseconds, not seconds


def test_benchmark_cpu_torch_work():
    a = torch.randn(64, 64)
    times = benchmark(lambda: a @ a, CPU, warmup=1, trials=3)
    assert len(times) == 3 and all(t > 0 for t in times)


def test_speedup_is_reference_over_custom_and_finite_for_zero():
    assert speedup(stats(2.0), stats(0.5)) == 4.0
    assert speedup(stats(1.0), stats(4.0)) == 0.25
    assert speedup(stats(1.0), stats(0.0)) == pytest.approx(1e6)
    assert speedup(stats(0.0), stats(0.0)) == 1.0


def test_cpu_timings_are_flagged_not_meaningful():
    assert not timings_meaningful(CPU)
    assert timing_caveat(CPU) == CPU_TIMING_CAVEAT
    assert "not meaningful for GPU kernels" in CPU_TIMING_CAVEAT
    assert "perf_counter" in method_description(CPU)


requires_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.mark.gpu
@requires_cuda
def test_benchmark_cuda_counts_side_stream_work():
    device = torch.device("cuda")
    a = torch.randn(8192, 8192, device=device)
    side = torch.cuda.Stream(device)

    def launch_on_side_stream():
        with torch.cuda.stream(side):
            a @ a

    times = benchmark(launch_on_side_stream, device, warmup=2, trials=10)
    assert len(times) == 10
    assert min(times) > 0.1  # an 8192^3 matmul; a timer that ignored the side stream would see ~0
    assert timings_meaningful(device) and timing_caveat(device) is None
    assert "device-wide synchronize" in method_description(device)


@pytest.mark.gpu
@requires_cuda
def test_benchmark_cuda_same_work_same_time_and_speedup():
    device = torch.device("cuda")
    small, big = torch.randn(1024, 1024, device=device), torch.randn(4096, 4096, device=device)
    fast = summarize(benchmark(lambda: small @ small, device, warmup=3, trials=20))
    slow = summarize(benchmark(lambda: big @ big, device, warmup=3, trials=20))
    assert speedup(slow, fast) > 5
