"""The CUDA side of the timer: a profiled loop (device kernel time from CUPTI, side-stream check), an event loop
(end-to-end time on the caller's stream), the L2 flush and the device's copy bandwidth. Only bound originals from
`Clocks` are called, never whatever `torch.cuda` holds now."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import Any, Protocol

import torch

from kernel_eval.stages.timing import l2
from kernel_eval.stages.timing.clocks import Clocks
from kernel_eval.stages.timing.record import Pacing
from kernel_eval.stages.timing.trace import (
    FORWARD_RANGE,
    MARKER_RANGE,
    PREPARE_RANGE,
    Activity,
    CallTrace,
    calls,
)

MIN_L2_FLUSH_BYTES = 64 * 1024 * 1024
BANDWIDTH_BYTES = 256 * 1024 * 1024
BANDWIDTH_REPEATS = 10

_flush_buffers: dict[int, torch.Tensor] = {}
_bandwidths: dict[int, float] = {}

Call = Callable[[], object]


class Hooks(Protocol):
    """What the timer runs around each call, outside the timed region (see rotation.py)."""

    def before(self) -> None: ...

    def after(self, index: int, count: int, output: object) -> None: ...


def device_index(device: torch.device) -> int:
    return device.index if device.index is not None else torch.cuda.current_device()


def l2_flush_bytes(index: int) -> int:
    l2_bytes = int(getattr(torch.cuda.get_device_properties(index), "L2_cache_size", 0))
    return max(2 * l2_bytes, MIN_L2_FLUSH_BYTES)


def flush_l2(index: int) -> None:
    """Overwrite twice the L2 on the current stream, so no call finds its inputs cached."""
    if index not in _flush_buffers:
        _flush_buffers[index] = torch.empty(
            l2_flush_bytes(index), dtype=torch.int8, device=torch.device("cuda", index)
        )
    _flush_buffers[index].zero_()


def after_call(
    clock: Callable[[], float], hooks: Hooks | None, index: int, count: int, output: object
) -> float:
    """Run the hooks' `after` on a call's output. Returns the seconds it took (keeping a copy), which no gap
    counts."""
    if hooks is None:
        return 0.0
    started = clock()
    hooks.after(index, count, output)
    return clock() - started


def event_loop(
    clocks: Clocks,
    index: int,
    call: Call,
    count: int,
    hooks: Hooks | None = None,
    pacing: Pacing | None = None,
) -> list[float]:
    """End-to-end milliseconds per call: the device idle, the flush, then events on the caller's stream around
    the forward, with no host synchronize between them (the start event follows the flush, so it is not counted).
    After the end event the host waits for it, so that whatever runs before the next call is not the forward's."""
    event_cls = clocks.original("torch.cuda.Event")
    record = clocks.original("torch.cuda.Event.record")
    elapsed = clocks.original("torch.cuda.Event.elapsed_time")
    wait = clocks.original("torch.cuda.Event.synchronize")
    synchronize = clocks.original("torch.cuda.synchronize")
    clock = clocks.perf_counter
    pairs = []
    for i in range(count):
        started = clock()
        if hooks is not None:
            hooks.before()
        l2.reset_persisting()
        synchronize()
        flush_l2(index)
        start, end = event_cls(enable_timing=True), event_cls(enable_timing=True)
        timed_from = clock()
        record(start)
        output = call()
        record(end)
        wait(end)
        timed_to = clock()
        pairs.append((start, end))
        keeping = after_call(clock, hooks, i, count, output)
        del output
        if pacing is not None:
            pacing.add(started, timed_from, timed_to, clock(), keeping)
    synchronize()
    return [float(elapsed(start, end)) for start, end in pairs]


def profiled_loop(
    clocks: Clocks,
    index: int,
    call: Call,
    count: int,
    hooks: Hooks | None = None,
    pacing: Pacing | None = None,
) -> list[CallTrace]:
    """Per call, what CUPTI saw the device run for it (see trace.py for the layout of a profiled call)."""
    profile_cls = clocks.original("torch.profiler.profile")
    activity = clocks.original("torch.profiler.ProfilerActivity")
    record_function = clocks.original("torch.profiler.record_function")
    synchronize = clocks.original("torch.cuda.synchronize")
    clock = clocks.perf_counter
    mark = _marker(clocks)
    with profile_cls(activities=[activity.CPU, activity.CUDA]) as profiler:
        for i in range(count):
            started = clock()
            with record_function(PREPARE_RANGE):
                if hooks is not None:
                    hooks.before()
                l2.reset_persisting()
                flush_l2(index)
                synchronize()
            timed_from = clock()
            with record_function(FORWARD_RANGE):
                output = call()
            with record_function(MARKER_RANGE):
                mark()
                synchronize()
            timed_to = clock()
            # outside every range: a copy kept for the judge is not the forward's time
            keeping = after_call(clock, hooks, i, count, output)
            del output
            if pacing is not None:
                pacing.add(started, timed_from, timed_to, clock(), keeping)
    return calls(read_activities(profiler))


def _marker(clocks: Clocks) -> Callable[[], None]:
    sleep = clocks.snapshot.get("torch.cuda._sleep")
    if callable(sleep):
        return lambda: sleep(0)
    scratch = torch.zeros(1, device="cuda")

    def fill() -> None:
        scratch.fill_(0)

    return fill


def read_activities(profiler: Any) -> list[Activity]:
    """The raw profiler records (not the slower FunctionEvent tree), as Activities."""
    results = getattr(getattr(profiler, "profiler", None), "kineto_results", None)
    if results is None:
        return []
    cpu = torch.autograd.DeviceType.CPU
    activities = []
    for event in results.events():
        on_device = event.device_type() != cpu
        kind = (
            event.activity_type()
            if hasattr(event, "activity_type")
            else ("kernel" if on_device else "cpu_op")
        )
        if on_device and getattr(event, "is_user_annotation", lambda: False)():
            kind = "gpu_user_annotation"
        activities.append(
            Activity(
                name=event.name(),
                kind=kind,
                start_ns=int(event.start_ns()),
                end_ns=int(event.end_ns()),
                on_device=on_device,
                stream=int(event.device_resource_id()) if on_device else 0,
                correlation=0 if on_device else int(event.correlation_id()),
                linked=int(event.linked_correlation_id()) if on_device else 0,
            )
        )
    return activities


def copy_bandwidth(clocks: Clocks, index: int) -> float:
    """Bytes per second a device-to-device copy moves (read + write), measured once per device and process."""
    if index not in _bandwidths:
        event_cls = clocks.original("torch.cuda.Event")
        record = clocks.original("torch.cuda.Event.record")
        elapsed = clocks.original("torch.cuda.Event.elapsed_time")
        synchronize = clocks.original("torch.cuda.synchronize")
        device = torch.device("cuda", index)
        source = torch.empty(BANDWIDTH_BYTES, dtype=torch.int8, device=device).fill_(1)
        target = torch.empty_like(source)
        target.copy_(source)
        times = []
        for _ in range(BANDWIDTH_REPEATS):
            start, end = event_cls(enable_timing=True), event_cls(enable_timing=True)
            record(start)
            target.copy_(source)
            record(end)
            synchronize()
            times.append(float(elapsed(start, end)))
        del source, target
        _bandwidths[index] = 2 * BANDWIDTH_BYTES / (statistics.median(times) / 1e3)
    return _bandwidths[index]
