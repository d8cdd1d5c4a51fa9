"""Work the custom side does where it is not timed (pure, no torch).

Between two timed calls the harness loads the next input values, resets persisting L2, flushes the cache and
waits for the device: the same work for both sides, as they are fed the same inputs. A module that moves its own
work there (a background thread, a finalizer that runs when its output is dropped, an override of the copy that
loads the next values) makes its timed calls short and its gaps long. So the median gap per call of the custom
side is compared with the reference's, measured in the same interleaved rounds.

Only on a GPU: there the gap is mostly the device's copy, flush and synchronize. On the CPU the harness's copies
run on the same cores as everything else in the process (the Triton interpreter's numpy threads still spinning
after a call slow them tenfold), and CPU timings are not meaningful for GPU kernels anyway.
"""

from __future__ import annotations

import statistics

from kernel_eval.kinds import FlagKind
from kernel_eval.result import Flag
from kernel_eval.stages.timing.record import SideRecord

GAP_RATIO = 1.5  # custom gap over reference gap beyond which the excess is not the harness's
SHARE_OF_CALL = 0.5  # and this share of a custom call: the gaps of honest kernels drift with their length
MIN_EXCESS_MS = 0.05  # events and the host clock jitter below this


def untimed_work_flag(reference: SideRecord, custom: SideRecord, on_gpu: bool) -> Flag | None:
    if not on_gpu or not reference.gap_ms or not custom.gap_ms or not custom.headline_ms:
        return None
    ref_gap, custom_gap = statistics.median(reference.gap_ms), statistics.median(custom.gap_ms)
    excess = custom_gap - ref_gap
    call_ms = statistics.median(custom.headline_ms)
    if custom_gap <= ref_gap * GAP_RATIO or excess <= MIN_EXCESS_MS or excess <= call_ms * SHARE_OF_CALL:
        return None
    return Flag(
        FlagKind.UNTIMED_WORK,
        f"between its timed calls the custom side spent {custom_gap:.3g} ms per call (median) where the reference "
        f"spent {ref_gap:.3g} ms doing the same loading and flushing: {excess:.3g} ms of work per call ran outside "
        f"the timed region, against {call_ms:.3g} ms timed (a background thread, a finalizer, an override of the "
        "harness's copies); the speedup would not count it",
    )
