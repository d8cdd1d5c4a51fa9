"""Timing: statistics, the stop rule, clocks, the floor, trace reading, and the measuring loops."""

from __future__ import annotations

import statistics
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
from kernel_eval.stages.timing.clocks import Clocks
from kernel_eval.stages.timing.record import Round
from kernel_eval.stages.timing.timer import Timer

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
    assert result.ci95_ms == [1.0, 10.0]  # five samples are too few for 95 %: the whole range


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
    assert len(times) == 5 and len(calls) >= 5 + 2
    assert all(t >= 1.5 for t in times)  # milliseconds, not seconds


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


def test_cpu_timer_uses_the_bound_clock_not_a_patched_one(monkeypatch):
    timer = Timer(CPU, Clocks.bind())
    monkeypatch.setattr(time, "perf_counter", lambda: 0.0)  # what a cheating module would do at import
    measured = timer.round(lambda: time.sleep(0.001), 5, warmup=1)
    assert isinstance(measured, Round) and measured.gpu_ms is None
    assert len(measured.end_to_end_ms) == 5 and min(measured.end_to_end_ms) >= 0.8
    assert measured.warmup_calls >= 1 and measured.wall_s > 0.004
    assert timer.copy_bandwidth() == 0.0


def test_cpu_timer_runs_the_hooks_around_each_call():
    seen: list[object] = []

    class Hooks:
        def before(self) -> None:
            seen.append("before")

        def after(self, index: int, count: int, output: object) -> None:
            seen.append((index, count, output))

    Timer(CPU, Clocks.bind()).round(lambda: 7, 2, hooks=Hooks())
    assert seen == ["before", (0, 2, 7), "before", (1, 2, 7)]


def test_profiler_records_read_as_activities_on_the_cpu():
    from torch.profiler import ProfilerActivity, profile, record_function

    from kernel_eval.stages.timing.cuda import read_activities
    from kernel_eval.stages.timing.trace import FORWARD_RANGE, MARKER_RANGE, calls

    with profile(activities=[ProfilerActivity.CPU]) as profiler:
        with record_function(FORWARD_RANGE):
            torch.ones(4).add_(1)
        with record_function(MARKER_RANGE):
            pass
    activities = read_activities(profiler)
    forward = next(a for a in activities if a.name == FORWARD_RANGE)
    assert forward.kind == "user_annotation" and not forward.on_device and forward.correlation > 0
    assert forward.end_ns > forward.start_ns > 0
    assert any(a.kind == "cpu_op" and a.name == "aten::add_" for a in activities)
    (call,) = calls(activities)
    assert not call.marker_found and call.device_ns == 0  # no device here: the GPU figure is reported missing


requires_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.mark.gpu
@requires_cuda
def test_gpu_kernel_time_of_a_known_kernel_matches_events():
    device = torch.device("cuda")
    a = torch.randn(4096, 4096, device=device)
    timer = Timer(device, Clocks.bind())
    measured = timer.round(lambda: a @ a, 30, warmup=5)
    assert measured.gpu_ms is not None, "the profiler recorded no device time"
    gpu, e2e = statistics.median(measured.gpu_ms), statistics.median(measured.end_to_end_ms)
    assert gpu > 0.05
    assert gpu == pytest.approx(e2e, rel=0.05)  # one long kernel: events add only a launch gap
    assert measured.outlived == 0


@pytest.mark.gpu
@requires_cuda
def test_gpu_side_stream_forward_is_flagged():
    from kernel_eval.stages.timing.assemble import assemble
    from kernel_eval.stages.timing.record import SideRecord

    device = torch.device("cuda")
    a = torch.randn(4096, 4096, device=device)
    side = torch.cuda.Stream(device)

    def returns_at_once():
        with torch.cuda.stream(side):
            return a @ a

    timer = Timer(device, Clocks.bind())
    custom = timer.round(returns_at_once, 10, warmup=3)
    reference = timer.round(lambda: a @ a, 10, warmup=3)
    assert custom.outlived > 0 and reference.outlived == 0
    assert custom.gpu_ms is not None and statistics.median(custom.gpu_ms) > 0.05  # counted on its stream
    records = SideRecord(), SideRecord()
    records[0].add(reference)
    records[1].add(custom)
    _, flags = assemble(records[0], records[1], True, "precise")
    assert [f.kind for f in flags] == ["side_stream"]


@pytest.mark.gpu
@requires_cuda
def test_gpu_patched_event_is_detected_and_not_used(monkeypatch):
    device = torch.device("cuda")
    clocks = Clocks.bind()
    timer = Timer(device, clocks)
    monkeypatch.setattr(torch.cuda.Event, "elapsed_time", lambda self, end: 1e-6)
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: None)
    a = torch.randn(4096, 4096, device=device)
    measured = timer.round(lambda: a @ a, 10, warmup=2)
    assert min(measured.end_to_end_ms) > 0.05  # the bound originals measured
    assert set(clocks.check()) == {"torch.cuda.Event.elapsed_time", "torch.cuda.synchronize"}


@pytest.mark.gpu
@requires_cuda
def test_gpu_copy_bandwidth_and_floor_of_a_copy():
    from kernel_eval.stages.timing.floor import FloorCheck, count_bytes

    device = torch.device("cuda")
    timer = Timer(device, Clocks.bind())
    bandwidth = timer.copy_bandwidth()
    assert 1e11 < bandwidth < 2e13  # 100 GB/s .. 20 TB/s
    x = torch.randn(64 * 1024 * 1024 // 4, device=device)
    measured = timer.round(lambda: x.clone(), 20, warmup=3)
    assert measured.gpu_ms is not None
    check = FloorCheck(count_bytes(x, x.clone()), statistics.median(measured.gpu_ms), bandwidth)
    assert not check.below and 30 < check.percent_of_copy_bandwidth < 130
