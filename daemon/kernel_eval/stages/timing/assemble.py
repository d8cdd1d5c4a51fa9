"""From both sides' records to the `Timing` a user reads, and the flags timing raised (pure, no torch).

The headline is device kernel time (CUPTI) whenever both sides have it: it counts every stream, excludes the host's
launch gaps and the L2 flush, and is what the kernels themselves cost, so it is the steadiest figure and the one a
kernel author can act on. End-to-end time (events on the caller's stream) is reported beside it: it adds the launch
overhead a caller pays, and is the headline only when device times are missing.
"""

from __future__ import annotations

import attrs

from kernel_eval.kinds import FlagKind
from kernel_eval.result import Flag, Floor, Severity, Timing, format_speedup
from kernel_eval.stages.timing import sampling
from kernel_eval.stages.timing.clocks import harness_message, harness_names, tamper_message
from kernel_eval.stages.timing.floor import FloorCheck, below_floor_message
from kernel_eval.stages.timing.record import SideRecord
from kernel_eval.stages.timing.stats import speedup, speedup_ci95, summarize
from kernel_eval.stages.timing.threads import ForeignThread
from kernel_eval.stages.timing.threads import flag_text as thread_flag_text
from kernel_eval.stages.timing.untimed import untimed_work_flag

HOST_GAP_RATIO = 1.5  # kernel-time speedup over end-to-end speedup beyond which host time is reported
HOST_GAP_MIN_MS = 0.05
GPU_FIGURE = "gpu_kernel_time"
END_TO_END_FIGURE = "end_to_end"


@attrs.define(frozen=True)
class Bytes:
    """What the floor needs: bytes each side moves, and the device's copy bandwidth (0 = no floor)."""

    reference: int = 0
    custom: int = 0
    bandwidth_bytes_per_s: float = 0.0


def assemble(
    reference: SideRecord,
    custom: SideRecord,
    meaningful: bool,
    stop_reason: str,
    bytes_moved: Bytes | None = None,
    tampered: list[str] | None = None,
    l2_persistence: list[str] | None = None,
    threads: list[ForeignThread] | None = None,
) -> tuple[Timing, list[Flag]]:
    gpu = meaningful and reference.gpu_ms is not None and custom.gpu_ms is not None
    ref_ms, custom_ms = reference.headline_ms, custom.headline_ms
    ref_stats, custom_stats = summarize(ref_ms), summarize(custom_ms)
    timing = Timing(
        reference=ref_stats,
        custom=custom_stats,
        speedup=speedup(ref_stats, custom_stats),
        method=method(meaningful, gpu, stop_reason),
        meaningful=meaningful,
        warmup=custom.warmup_calls,
        speedup_ci95=speedup_ci95(ref_ms, custom_ms),
        figure=GPU_FIGURE if gpu else END_TO_END_FIGURE,
    )
    if gpu:
        ref_e2e, custom_e2e = summarize(reference.end_to_end_ms), summarize(custom.end_to_end_ms)
        timing.reference_end_to_end, timing.custom_end_to_end = ref_e2e, custom_e2e
        timing.end_to_end_speedup = speedup(ref_e2e, custom_e2e)
    flags = []
    harness = harness_names(tampered or [])
    clocks = [name for name in tampered or [] if name not in harness]
    if clocks:
        flags.append(Flag(FlagKind.CLOCK_TAMPERED, tamper_message(clocks)))
        timing.method += "; clocks tampered with: speedup not valid"
    if harness:
        flags.append(Flag(FlagKind.HARNESS_TAMPERED, harness_message(harness)))
        timing.method += "; harness tampered with: speedup not valid"
    if l2_persistence:
        flags.append(
            Flag(
                FlagKind.L2_PERSISTENCE,
                f"the custom module set up persisting L2 ({'; '.join(l2_persistence)}): data it marks persisting "
                "survives the cache flush between timed calls, so its calls find their inputs cached; reset before "
                "every timed call, and flagged (a kernel's time must not depend on what the previous call left in L2)",
            )
        )
        timing.method += "; persisting L2 set by the custom module: speedup not valid"
    if threads:
        user = [thread for thread in threads if thread.runs_user_code]
        severity = Severity.ERROR if user else Severity.WARNING
        flags.append(Flag(FlagKind.BACKGROUND_THREAD, thread_flag_text(user or threads), severity))
        if user:
            timing.method += "; a thread of the custom module ran beside it: speedup not valid"
    if custom.outlived:
        flags.append(
            Flag(
                FlagKind.SIDE_STREAM,
                f"in {custom.outlived} timed calls the custom forward returned while its kernels were still running on "
                "another stream (the caller's stream never waited for them); the GPU-time figure counts them, "
                "the end-to-end figure cannot",
            )
        )
    if bytes_moved is not None and bytes_moved.bandwidth_bytes_per_s > 0 and meaningful:
        timing.floor, floor_flag = _floor(timing, bytes_moved)
        if floor_flag is not None:
            flags.append(floor_flag)
    untimed = None if custom.outlived else untimed_work_flag(reference, custom, meaningful)  # outlived: said
    if untimed is not None:
        flags.append(untimed)
        timing.method += "; work outside the timed calls: speedup not valid"
    host_flag = _host_time(timing)
    if host_flag is not None:
        flags.append(host_flag)
    return timing, flags


def _host_time(timing: Timing) -> Flag | None:
    """Kernel time cannot see work done on the host (a CPU computation copied to the device afterwards): when the
    end-to-end speedup is far below the kernel-time speedup, say so (a warning: launch overhead also does this)."""
    e2e = timing.end_to_end_speedup
    if e2e is None or timing.custom_end_to_end is None or e2e * HOST_GAP_RATIO >= timing.speedup:
        return None
    gap_ms = timing.custom_end_to_end.median_ms - timing.custom.median_ms
    if gap_ms < HOST_GAP_MIN_MS:
        return None
    return Flag(
        FlagKind.HOST_TIME,
        f"the custom forward takes {timing.custom_end_to_end.median_ms:.3g} ms end to end but only "
        f"{timing.custom.median_ms:.3g} ms of kernels: end-to-end speedup {format_speedup(e2e)} vs "
        f"{format_speedup(timing.speedup)} on kernel time (host work or launch overhead the kernel figure cannot see)",
        severity=Severity.WARNING,
    )


def _floor(timing: Timing, moved: Bytes) -> tuple[Floor, Flag | None]:
    bandwidth = moved.bandwidth_bytes_per_s
    ref = FloorCheck(moved.reference, timing.reference.median_ms, bandwidth)
    custom = FloorCheck(moved.custom, timing.custom.median_ms, bandwidth)
    floor = Floor(
        copy_bandwidth_gbs=bandwidth / 1e9,
        reference_bytes=moved.reference,
        custom_bytes=moved.custom,
        reference_percent=ref.percent_of_copy_bandwidth,
        custom_percent=custom.percent_of_copy_bandwidth,
    )
    message = below_floor_message(custom, ref)
    return floor, Flag(FlagKind.BELOW_PHYSICAL_FLOOR, message) if message else None


def method(meaningful: bool, gpu: bool, stop_reason: str) -> str:
    stop = {
        "precise": f"until each median's 95 % interval was within ±{sampling.TARGET_HALF_WIDTH * 100:g} %",
        "tick": (
            f"until each median's 95 % interval was within ±{sampling.TARGET_HALF_WIDTH * 100:g} % or, for a "
            "kernel too short for that, within two steps of the timer"
        ),
        "budget": "until a side's time budget ran out",
    }.get(stop_reason, "")
    rounds = f"reference and custom alternating in rounds {stop}".rstrip()
    if not meaningful:
        return f"time.perf_counter around each call on the CPU (not meaningful for GPU kernels); {rounds}; median"
    if gpu:
        return (
            "headline: device kernel time per forward from CUPTI (kernels + copies on every stream, L2 flush "
            f"excluded); also end-to-end CUDA events on the caller's stream; {rounds}; medians"
        )
    return (
        "headline: end-to-end CUDA events on the caller's stream around each forward, L2 flushed before "
        f"(device kernel times were not recorded); {rounds}; medians"
    )
