"""Reading a profiler trace (CUPTI activity records) into per-call device time (pure, no torch).

A profiled round runs, per call: a `kernel_eval::prepare` range (fresh input values, the L2 flush, a device
synchronize), the forward inside a `kernel_eval::forward` range, then a `kernel_eval::marker` range that launches a
tiny marker kernel on the caller's stream and synchronizes the device.

A device record belongs to the range of the host op that launched it (its link). Host records are compared with
host records only, so no clock alignment is assumed. A record without a known link (launched from a thread the
profiler did not see) falls back to time: it belongs to the call whose forward start and marker end enclose its
start. Device time of a call is the sum of its kernel, memcpy and memset durations, on every stream, marker
excluded. Work on another stream that ends after the marker ran on the caller's stream outlived the forward: the
caller could not have waited for it.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right

import attrs

PREPARE_RANGE = "kernel_eval::prepare"
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
    kind: str
    """The profiler's activity type: cpu_op, user_annotation, kernel, gpu_memcpy, gpu_memset, ..."""
    start_ns: int
    end_ns: int
    on_device: bool
    stream: int = 0
    """Device records: the stream."""
    correlation: int = 0
    """Host records: their id."""
    linked: int = 0
    """Device records: the id of the host record that launched them."""

    @property
    def duration_ns(self) -> int:
        return max(self.end_ns - self.start_ns, 0)


@attrs.define(frozen=True)
class CallTrace:
    device_ns: int
    """Kernels + copies + memsets of the forward, all streams, marker excluded."""
    kernels: int
    streams: frozenset[int]
    marker_found: bool
    outlived: bool
    """Work on another stream ended after the caller's stream reached the marker."""


def calls(activities: list[Activity]) -> list[CallTrace]:
    """One CallTrace per forward range (each paired with the marker range that follows it), in order."""
    host = sorted((a for a in activities if not a.on_device), key=lambda a: a.start_ns)
    # the device twin of a kernel_eval range is an annotation, not work, whatever kind an older profiler gives it
    device = sorted(
        (
            a
            for a in activities
            if a.on_device and a.kind in DEVICE_WORK and not a.name.startswith("kernel_eval::")
        ),
        key=lambda a: a.start_ns,
    )
    pairs = list(
        zip(
            [a for a in host if a.name == FORWARD_RANGE],
            [a for a in host if a.name == MARKER_RANGE],
            strict=False,
        )
    )
    owners = _owners(host, pairs)
    work: list[list[Activity]] = [[] for _ in pairs]
    markers: list[Activity | None] = [None for _ in pairs]
    forward_starts = [forward.start_ns for forward, _ in pairs]
    for record in device:
        owner = owners.get(record.linked) if record.linked else None
        if owner is None:
            owner = _by_time(record, pairs, forward_starts)
        if owner is None or owner[1] == PREPARE_RANGE:
            continue
        index, scope = owner
        if scope == MARKER_RANGE:
            markers[index] = record
        else:
            work[index].append(record)
    return [_call(records, marker) for records, marker in zip(work, markers, strict=True)]


def _owners(host: list[Activity], pairs: list[tuple[Activity, Activity]]) -> dict[int, tuple[int, str]]:
    """Host record id -> (call index, range name) for every op or range inside a call's ranges. Ops inside a
    prepare range (fresh values, the flush) get index -1: their device work is nobody's."""
    starts = [a.start_ns for a in host]
    scopes = [(index, scope) for index, pair in enumerate(pairs) for scope in pair]
    scopes += [(-1, a) for a in host if a.name == PREPARE_RANGE]
    owners: dict[int, tuple[int, str]] = {}
    for index, scope in scopes:
        for record in host[bisect_left(starts, scope.start_ns) : bisect_right(starts, scope.end_ns)]:
            if record.kind in HOST_SCOPES and record.correlation and record.end_ns <= scope.end_ns:
                owners.setdefault(record.correlation, (index, scope.name))
    return owners


def _by_time(
    record: Activity, pairs: list[tuple[Activity, Activity]], forward_starts: list[int]
) -> tuple[int, str] | None:
    index = bisect_right(forward_starts, record.start_ns) - 1
    if index < 0 or record.start_ns > pairs[index][1].end_ns:
        return None
    marker_range = pairs[index][1]
    is_marker = MARKER_KERNEL in record.name and record.start_ns >= marker_range.start_ns
    return index, MARKER_RANGE if is_marker else FORWARD_RANGE


def _call(work: list[Activity], marker: Activity | None) -> CallTrace:
    outlived = marker is not None and any(
        a.stream != marker.stream and a.end_ns > marker.end_ns for a in work
    )
    return CallTrace(
        device_ns=sum(a.duration_ns for a in work),
        kernels=len(work),
        streams=frozenset(a.stream for a in work),
        marker_found=marker is not None,
        outlived=outlived,
    )
