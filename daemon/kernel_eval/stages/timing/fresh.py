"""Timed values the module has never seen (pure; no torch).

The timed rounds rotate a few input sets through the same tensors, so by the end every value the timer feeds has
been seen many times, and a module that remembers results by input *values* (a key made of sums or samples of
the inputs, or outputs precomputed for seeds it predicted) would be timed as a lookup. So the custom side's last
round mixes input sets drawn for it alone (secret seeds, made by the judge, never shown before) in among the
rotated ones, at positions drawn at random, each used once, in every timed loop. The judge checks every output
made on them; here the times say whether the module was materially faster on values it had seen:

- per loop, the median time of a call on fresh values against the median on seen values (a value-keyed cache);
- per loop, the mean time of all its calls against the median of the earlier rounds, where every value had been
  seen: the work for the fresh values moved into some calls (all of it into the first);
- on a GPU, the gaps between calls (the harness's steps, and whatever the module does meanwhile) beyond the
  earlier rounds' median gap, summed: the work moved between calls (a finalizer, a hook).

An honest kernel costs the same on any values of the same distribution. A round that looks suspicious is run again
on new fresh sets before anything is said, so a one-off stall does not accuse an honest kernel.
"""

from __future__ import annotations

import random
import statistics

import attrs

CALLS_PER_LOOP = 12
FRESH_PER_LOOP = 2
FRESH_BUDGET_BYTES = 1 << 30  # device memory the fresh sets of one round may take
CALL_RATIO = 1.3  # fresh median over seen median beyond which a call is materially faster on seen values
SPREAD_RATIO = 1.5  # a fresh round's mean call (or gap) over the earlier rounds' median
# below these differences (ms) a ratio is noise: CUPTI's step is 32 ns; events and perf_counter are coarser
MIN_DIFFERENCE_MS = {"gpu_kernel_time": 0.002, "end_to_end": 0.01, "cpu": 0.05}
# a mean over one round's calls carries every stall (a thread waking on the CPU, a context switch): coarser
MIN_MEAN_DIFFERENCE_MS = {"gpu_kernel_time": 0.005, "end_to_end": 0.02, "cpu": 0.5}
# a round's gaps beyond the earlier median, summed, must hold this share of computing its fresh sets (at the
# reference's speed), and more than doubling the gaps: one call's work hidden in a gap, not a slow copy
GAP_WORK_SHARE = 0.5


@attrs.frozen
class Schedule:
    """Which input set each call of a round loads (0.. seen sets, then the fresh ones), every loop in order."""

    sets: list[int]
    loops: int

    @property
    def calls_per_loop(self) -> int:
        return len(self.sets) // self.loops


@attrs.define
class LoopSplit:
    """One timed loop of a round with fresh sets: call times on seen and on fresh values, in its own figure."""

    figure: str  # gpu_kernel_time, end_to_end or cpu
    seen_ms: list[float]
    fresh_ms: list[float]


@attrs.define
class FreshTimes:
    """What a round with fresh sets measured: its loops, and the gap before and after each of its calls."""

    loops: list[LoopSplit] = attrs.Factory(list)
    gap_ms: list[float] = attrs.Factory(list)


@attrs.frozen
class Earlier:
    """The custom side's medians over the rounds before, where every value had been seen: per figure, and gaps."""

    call_ms: dict[str, float]
    gap_ms: float
    reference_ms: float = 0.0  # the reference's median call: what computing one input set honestly costs


@attrs.frozen
class Finding:
    """Materially faster on seen values: the figures a user reads."""

    figure: str
    seen_ms: float
    fresh_ms: float
    how: str = "median"  # median: fresh calls against seen ones; mean: all calls; gap: between calls

    @property
    def ratio(self) -> float:
        return self.fresh_ms / self.seen_ms if self.seen_ms > 0 else float("inf")


def fresh_per_loop(set_bytes: int, loops: int) -> int:
    """Fresh sets per timed loop: FRESH_PER_LOOP, fewer when they would not fit the budget, never none."""
    fitting = FRESH_BUDGET_BYTES // max(set_bytes * loops, 1)
    return max(1, min(FRESH_PER_LOOP, fitting))


def schedule(seen: int, fresh: int, loops: int, rng: random.Random, calls: int = CALLS_PER_LOOP) -> Schedule:
    """Per loop: `fresh` new sets (each once in the whole round) at random positions past the first, the seen sets
    cycling in the others."""
    if seen < 1 or fresh < 1 or calls < fresh + seen + 1:
        raise ValueError(f"a round of {calls} calls cannot hold {seen} seen and {fresh} fresh sets")
    sets: list[int] = []
    for loop in range(loops):
        positions = set(rng.sample(range(1, calls), fresh))
        fresh_sets = iter(range(seen + loop * fresh, seen + (loop + 1) * fresh))
        cycle = 0
        for position in range(calls):
            if position in positions:
                sets.append(next(fresh_sets))
            else:
                sets.append(cycle % seen)
                cycle += 1
    return Schedule(sets, loops)


def split(schedule: Schedule, seen: int, figures: list[tuple[str, list[float | None]]]) -> list[LoopSplit]:
    """Each loop's call times (None: a call the figure has no time for), divided into seen and fresh."""
    loops = []
    per_loop = schedule.calls_per_loop
    for loop, (figure, times) in enumerate(figures):
        sets = schedule.sets[loop * per_loop : (loop + 1) * per_loop]
        pairs = [(index, ms) for index, ms in zip(sets, times, strict=True) if ms is not None]
        loops.append(
            LoopSplit(
                figure,
                [ms for index, ms in pairs if index < seen],
                [ms for index, ms in pairs if index >= seen],
            )
        )
    return loops


def finding(measured: FreshTimes, earlier: Earlier) -> Finding | None:
    """Whether the module was materially faster on the values it had seen (None: no sign of it)."""
    for loop in measured.loops:
        if not loop.seen_ms or not loop.fresh_ms:
            continue
        seen, fresh = statistics.median(loop.seen_ms), statistics.median(loop.fresh_ms)
        if _material(seen, fresh, CALL_RATIO, loop.figure):
            return Finding(loop.figure, seen, fresh)
    for loop in measured.loops:
        before = earlier.call_ms.get(loop.figure)
        mean = statistics.fmean(loop.seen_ms + loop.fresh_ms) if loop.seen_ms or loop.fresh_ms else 0.0
        if before and _material(before, mean, SPREAD_RATIO, loop.figure, MIN_MEAN_DIFFERENCE_MS):
            return Finding(loop.figure, before, mean, "mean")
    return _gap_finding(measured, earlier)


def _gap_finding(measured: FreshTimes, earlier: Earlier) -> Finding | None:
    """On a GPU: did the gaps of the round hold about as much work as computing its fresh sets would take? Each
    loop's first gap (a profiler session starting, the loop's first copy) is left out: it is slow for everyone."""
    loops = len(measured.loops)
    if not loops or measured.loops[0].figure == "cpu" or not measured.gap_ms or not earlier.gap_ms:
        return None  # on the CPU gaps are noise: see untimed.py
    per_loop = len(measured.gap_ms) // loops
    gaps = [gap for index, gap in enumerate(measured.gap_ms) if index % per_loop]
    if not gaps:
        return None
    excess = sum(gap - earlier.gap_ms for gap in gaps)
    fresh_sets = sum(len(loop.fresh_ms) for loop in measured.loops)
    if excess > max(GAP_WORK_SHARE * fresh_sets * earlier.reference_ms, len(gaps) * earlier.gap_ms):
        return Finding("end_to_end", earlier.gap_ms, statistics.fmean(gaps), "gap")
    return None


def _material(
    seen_ms: float, fresh_ms: float, ratio: float, figure: str, floors: dict[str, float] = MIN_DIFFERENCE_MS
) -> bool:
    return fresh_ms > seen_ms * ratio and fresh_ms - seen_ms > floors.get(figure, 0.01)


def message(found: Finding, confirmed_by: Finding | None = None) -> str:
    """The flag's words: both figures, by how much, and that the speedup is withheld."""
    figure = {"gpu_kernel_time": "device kernel time", "end_to_end": "end-to-end time"}.get(
        found.figure, "time"
    )
    if found.how == "median":
        what = (
            f"on input values it had already seen the custom forward took {found.seen_ms:.3g} ms ({figure}, "
            f"median), on fresh values {found.fresh_ms:.3g} ms: {found.ratio:.1f}× faster on seen values"
        )
    elif found.how == "mean":
        what = (
            f"its calls took {found.fresh_ms:.3g} ms on average ({figure}) in a round with fresh values among the "
            f"inputs, against a median of {found.seen_ms:.3g} ms when every value had been seen ({found.ratio:.1f}× "
            "more): the work for the fresh values went into some of its calls"
        )
    else:
        what = (
            f"between its timed calls it spent {found.fresh_ms:.3g} ms on average in a round with fresh values among "
            f"the inputs, against a median of {found.seen_ms:.3g} ms when every value had been seen "
            f"({found.ratio:.1f}× more): the work for the fresh values ran where it is not timed"
        )
    again = " (the same in a second round on new values)" if confirmed_by is not None else ""
    return (
        f"{what}{again}: it remembers results by input values instead of computing them, so its timed speed is "
        "a lookup's; no speedup is given"
    )
