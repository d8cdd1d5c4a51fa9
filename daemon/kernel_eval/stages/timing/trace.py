"""Reading a profiler trace (CUPTI activity records) into per-call device time (pure; no torch).

A profiled round runs, per call: the L2 flush then a device synchronize (outside any call window), the forward inside
a `kernel_eval::forward` range, then a `kernel_eval::marker` range that launches a tiny marker kernel on the caller's
stream and synchronizes the device. A call's window runs from its forward range's start to its marker range's end,
so everything the device ran for that forward, on any stream, starts inside it. Device time of the call is the sum
of its kernel, memcpy and memset durations, marker excluded. Work on another stream that ends after the marker ran
on the caller's stream outlived the forward: the caller could not have waited for it.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right

import attrs

FORWARD_RANGE = "kernel_eval::forward"
MARKER_RANGE = "kernel_eval::marker"
MARKER_KERNEL = "spin_kernel"  # what torch.cuda._sleep launches: the marker, unlikely in user code
DEVICE_WORK = frozenset({"kernel", "gpu_memcpy", "gpu_memset"})
# host records whose ids device records link to (runtime and driver calls number their own, separate sequence)
HOST_SCOPES = frozenset({"cpu_op", "user_annotation"})


@attrs.define(frozen=True)
class Activity:
    """One profiler record, in the profiler's nanosecond clock (host and device records share it)."""

    name: str
    kind: str  # the profiler's activity type: cpu_op, user_annotation, kernel, gpu_memcpy, gpu_memset, ...
    start_ns: int
    end_ns: int
    on_device: bool
    stream: int = 0  # device records: the stream
    correlation: int = 0  # host records: their id
    linked: int = 0  # device records: the id of the host record that launched them

    @property
    def duration_ns(self) -> int:
        return max(self.end_ns - self.start_ns, 0)


@attrs.define(frozen=True)
class CallTrace:
    device_ns: int  # kernels + copies + memsets of the forward, all streams, marker excluded
    kernels: int
    streams: frozenset[int]
    marker_found: bool
    outlived: bool  # work on another stream ended after the caller's stream reached the marker


def calls(activities: list[Activity]) -> list[CallTrace]:
    """One CallTrace per forward range (each paired with the marker range that follows it), in order."""
    host = sorted((a for a in activities if not a.on_device), key=lambda a: a.start_ns)
    host_starts = [a.start_ns for a in host]
    # the device twin of a kernel_eval range is an annotation, not work, whatever kind an older profiler gives it
    device = sorted(
        (
            a
            for a in activities
            if a.on_device and a.kind in DEVICE_WORK and not a.name.startswith("kernel_eval::")
        ),
        key=lambda a: a.start_ns,
    )
    device_starts = [a.start_ns for a in device]
    forwards = [a for a in host if a.name == FORWARD_RANGE]
    markers = [a for a in host if a.name == MARKER_RANGE]
    traces = []
    for forward, marker_range in zip(forwards, markers, strict=False):
        window = device[
            bisect_left(device_starts, forward.start_ns) : bisect_right(device_starts, marker_range.end_ns)
        ]
        inside = host[
            bisect_left(host_starts, marker_range.start_ns) : bisect_right(host_starts, marker_range.end_ns)
        ]
        marker = _marker_kernel(window, inside, marker_range)
        work = [a for a in window if a is not marker]
        outlived = marker is not None and any(
            a.stream != marker.stream and a.end_ns > marker.end_ns for a in work
        )
        traces.append(
            CallTrace(
                device_ns=sum(a.duration_ns for a in work),
                kernels=len(work),
                streams=frozenset(a.stream for a in work),
                marker_found=marker is not None,
                outlived=outlived,
            )
        )
    return traces


def _marker_kernel(window: list[Activity], inside: list[Activity], marker_range: Activity) -> Activity | None:
    """The marker: launched from inside the marker range (by correlation), else the spin kernel started in it."""
    launched_here = {
        a.correlation
        for a in inside
        if a.kind in HOST_SCOPES and a.correlation and a.end_ns <= marker_range.end_ns
    }
    linked = [a for a in window if a.linked and a.linked in launched_here]
    if linked:
        return linked[-1]
    named = [a for a in window if MARKER_KERNEL in a.name and a.start_ns >= marker_range.start_ns]
    return named[-1] if named else None
