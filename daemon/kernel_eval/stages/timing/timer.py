"""One side's timer, living in a worker: warm-up until times settle, then rounds of samples on demand.

On CUDA a round measures each call twice over: its device kernel time (CUPTI, every stream, L2 flush excluded)
and its end-to-end time (CUDA events on the caller's stream, no host synchronize inside). On the CPU it uses the
bound `time.perf_counter`, and says the times are not meaningful for GPU kernels.
"""

from __future__ import annotations

import gc
import statistics
from collections.abc import Callable

import torch

from kernel_eval.stages.timing import cuda, sampling
from kernel_eval.stages.timing.clocks import Clocks
from kernel_eval.stages.timing.record import Pacing, Round
from kernel_eval.stages.timing.trace import CallTrace

Call = Callable[[], object]


class Timer:
    def __init__(self, device: torch.device, clocks: Clocks) -> None:
        self.device = device
        self.clocks = clocks
        self.index = 0
        self.last_traces: list[CallTrace] = []  # the last round's profiled calls, one per call, in order
        if device.type == "cuda":
            self.index = cuda.device_index(device)

    @property
    def is_cuda(self) -> bool:
        return self.device.type == "cuda"

    def round(self, call: Call, count: int, warmup: int = 0, hooks: cuda.Hooks | None = None) -> Round:
        """`warmup` > 0 first calls untimed until times settle (at least that many calls). Then `count` samples.
        `hooks` run around each timed call, outside the timed region. The garbage collector waits until the round
        is over, so that its pauses do not land on whichever call or gap it happens to interrupt."""
        collecting = gc.isenabled()
        gc.disable()
        try:
            return self._round(call, count, warmup, hooks)
        finally:
            if collecting:
                gc.enable()

    def _round(self, call: Call, count: int, warmup: int, hooks: cuda.Hooks | None) -> Round:
        warmed = self._warm_up(call, warmup) if warmup > 0 else 0
        pacing = Pacing()
        started = self.clocks.perf_counter()
        if not self.is_cuda:
            samples = self._perf_counter_loop(call, count, hooks, pacing)
            wall = self.clocks.perf_counter() - started
            return Round(samples, None, wall, 0, warmed, pacing.gap_ms)
        traces = cuda.profiled_loop(self.clocks, self.index, call, count, hooks, pacing)
        end_to_end = cuda.event_loop(self.clocks, self.index, call, count, hooks, pacing)
        wall = self.clocks.perf_counter() - started
        self.last_traces = traces
        traced = [t for t in traces if t.marker_found]  # a call without its marker was not fully recorded
        gpu = [t.device_ns / 1e6 for t in traced] if len(traced) * 2 > len(traces) else None
        outlived = sum(t.outlived for t in traced)
        return Round(end_to_end, gpu, wall, outlived, warmed, pacing.gap_ms)

    def copy_bandwidth(self) -> float:
        """Device copy bandwidth in bytes/s (0 on the CPU: no floor there)."""
        if not self.is_cuda:
            return 0.0
        return cuda.copy_bandwidth(self.clocks, self.index)

    def _warm_up(self, call: Call, at_least: int) -> int:
        medians: list[float] = []
        calls = 0
        started = self.clocks.monotonic()
        while True:
            medians.append(statistics.median(self._samples(call, sampling.SETTLE_BATCH)))
            calls += sampling.SETTLE_BATCH
            if calls >= at_least and sampling.settled(medians):
                break
            if calls >= at_least and self.clocks.monotonic() - started > sampling.WARMUP_BUDGET_S:
                break
        if self.is_cuda:
            # The first profiler session pays CUPTI's set-up.
            cuda.profiled_loop(self.clocks, self.index, call, 1)
            calls += 1
        return calls

    def _samples(self, call: Call, count: int) -> list[float]:
        if not self.is_cuda:
            return self._perf_counter_loop(call, count, None)
        return cuda.event_loop(self.clocks, self.index, call, count)

    def _perf_counter_loop(
        self, call: Call, count: int, hooks: cuda.Hooks | None, pacing: Pacing | None = None
    ) -> list[float]:
        clock = self.clocks.perf_counter
        samples = []
        for i in range(count):
            started = clock()
            if hooks is not None:
                hooks.before()
            start = clock()
            output = call()
            end = clock()
            samples.append((end - start) * 1e3)
            keeping = cuda.after_call(clock, hooks, i, count, output)
            del output
            if pacing is not None:
                pacing.add(started, start, end, clock(), keeping)
        return samples
