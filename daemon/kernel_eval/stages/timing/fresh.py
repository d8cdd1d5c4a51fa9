"""Timed values the module has never seen (pure, no torch).

The timed rounds rotate a few input sets through the same tensors, so by the end every value the timer feeds has
been seen many times, and a module that remembers results by input *values* (a key made of sums or samples of
the inputs, or outputs precomputed for seeds it predicted) would be timed as a lookup. So the custom side's last
round mixes input sets drawn for it alone (secret seeds, made by the judge, never shown before) in among the
rotated ones, at positions drawn at random, each used once, in every timed loop. The judge checks every output
made on them. Here the times say whether the module was materially faster on values it had seen:

- the median call on fresh values against the median on seen values, in the same loop (a value-keyed cache).
- the median call on seen values in this round against the earlier rounds' (a module that tells this round from
  the others and computes honestly only here).
- on a GPU, the calls of a loop beyond its median, summed, against the work of computing its fresh sets (at the
  reference's speed): that work moved into a few calls (all of it into the first).
- on a GPU, the same for the gaps between calls (the harness's steps, and whatever the module does meanwhile):
  the work moved where it is not timed (a finalizer, a hook). On the CPU the first call of a loop and its gaps
  wait for threads to wake, by more than these sums.

Only the device kernel time (CUPTI) and, on the CPU, perf_counter are read: the end-to-end figure carries the
host's launch jitter, which on a short kernel differs from call to call by more than these ratios. An honest
kernel costs the same on any values of the same distribution. A round that looks suspicious is run again on new
fresh sets before anything is said, so a one-off stall does not accuse an honest kernel; and the reference is timed
through the same kind of round (its rotated sets with those fresh sets mixed in) just before and after it, so a
machine that has since grown slower (other work on a small CPU) is told from a module that computes only in such a
round: the round comparison allows for the reference's own slowdown on seen values, and the fresh-against-seen one
for the reference's own ratio, up to DRIFT_LIMIT. Past it (cores oversubscribed: every figure is noise) nothing can
be told, and no speedup is given.

Only the round comparison spans time, and time changes what no yardstick beside it sees: a virtual machine's host
takes the core for seconds (a call of 300 ms pays for it, a reference call of 0.1 ms mostly does not), an
interpreter's calls spread by a quarter. So a module slower on seen values in the rounds with fresh values than
before is not accused: its speedup is taken from those rounds, against the reference's rounds of the same kind
beside them (retimed_message). An honest module loses nothing but the luck of the earlier rounds; one that looks
up only where fresh values cannot come keeps none of that gain.
"""

from __future__ import annotations

import random
import statistics

import attrs

CALLS_PER_LOOP = 12
FRESH_PER_ROUND = 4  # two in each of a GPU's timed loops, four in the CPU's one
FRESH_BUDGET_BYTES = 1 << 30  # device memory the fresh sets of one round may take
CALL_RATIO = 1.3  # a median over another beyond which a call is materially faster on seen values
FIGURES = ("gpu_kernel_time", "cpu")  # the figures read (see above)
# below these differences (ms) a ratio is noise: CUPTI's step is 32 ns, and on the CPU a call of a tenth of a
# millisecond takes up to half a millisecond more now and then, waiting for a thread of the pool
MIN_DIFFERENCE_MS = {"gpu_kernel_time": 0.002, "cpu": 0.5}
# the excess of a loop's calls (or gaps) over their median, summed, is work moved there when it holds this share of
# computing the round's fresh sets, and more than doubles the loop's time: a stall is neither
WORK_SHARE = 0.5
# the reference this much slower beside the round than before: the machine is too busy to judge
DRIFT_LIMIT = 2.0
# a timed round whose threads waited this share of their time for a CPU other work held (engine/contention.py) ran
# on cores taken by that work: its times are that work's noise (a quiet machine: under 1 %; one core of two half taken: 16 %)
WAIT_LIMIT = 0.1
CONFIRM_TRIES = 3  # second rounds tried while the machine is too busy, before saying so
RETRY_PAUSE_S = 0.5  # before the second try, twice that before the third: passing load may pass


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

    figure: str
    """gpu_kernel_time, end_to_end or cpu."""
    seen_ms: list[float]
    fresh_ms: list[float]


@attrs.define
class FreshTimes:
    """What a round with fresh sets measured: its loops, and the gap before and after each of its calls."""

    loops: list[LoopSplit] = attrs.Factory(list)
    gap_ms: list[float] = attrs.Factory(list)


@attrs.frozen
class Earlier:
    """The medians of the rounds before, where every value had been seen: the custom side's per figure, and the
    reference's call (what computing one input set honestly costs)."""

    call_ms: dict[str, float]
    reference_ms: float = 0.0
    """The reference's median call: what computing one input set honestly costs."""
    drift: float = 1.0
    """How much slower the reference ran on seen values beside this round than in the rounds before: the machine's
    own slowdown."""
    fresh_ratio: float = 1.0
    """The reference's median call on fresh values over its median on seen ones, in the same kind of round."""
    waited: float = 0.0
    """The largest share of its time a round beside (or the custom side's) waited for a CPU."""

    @property
    def steady(self) -> bool:
        return self.drift <= DRIFT_LIMIT and self.waited <= WAIT_LIMIT

    def beside(self, measured: Beside) -> Earlier:
        """The same, with what the reference's rounds of the same kind, timed beside this one, show (no drift
        without them)."""
        seen = [ms for times in measured.reference for ms in _calls(times, "seen_ms")]
        new = [ms for times in measured.reference for ms in _calls(times, "fresh_ms")]
        if not seen or self.reference_ms <= 0:
            return attrs.evolve(self, waited=measured.waited)
        return attrs.evolve(
            self,
            drift=statistics.median(seen) / self.reference_ms,
            fresh_ratio=statistics.median(new) / statistics.median(seen) if new else 1.0,
            waited=measured.waited,
        )


@attrs.frozen
class Beside:
    """What was measured around a second fresh round: the reference's rounds of the same kind, and the largest
    share of its time any of the three rounds waited for a CPU."""

    reference: list[FreshTimes]
    waited: float = 0.0


def _calls(measured: FreshTimes, which: str) -> list[float]:
    return [ms for loop in measured.loops if loop.figure in FIGURES for ms in getattr(loop, which)]


@attrs.frozen
class Finding:
    """Materially faster on seen values: the figures a user reads."""

    figure: str
    seen_ms: float
    fresh_ms: float
    how: str = "median"
    """One of: median (fresh against seen), round (this round against earlier), mean (all calls), gap."""
    drift: float = 1.0
    """For a round: the machine's own slowdown allowed for (the earlier figure, seen_ms, includes it)."""

    @property
    def ratio(self) -> float:
        return self.fresh_ms / self.seen_ms if self.seen_ms > 0 else float("inf")


def fresh_per_loop(set_bytes: int, loops: int) -> int:
    """Fresh sets per timed loop: FRESH_PER_ROUND shared by the loops, fewer when they would not fit the budget,
    never none."""
    fitting = FRESH_BUDGET_BYTES // max(set_bytes * loops, 1)
    return max(1, min(FRESH_PER_ROUND // loops, fitting))


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
    loops = [loop for loop in measured.loops if loop.figure in FIGURES and loop.seen_ms and loop.fresh_ms]
    fresh_sets = sum(len(loop.fresh_ms) for loop in measured.loops)
    work_ms = WORK_SHARE * fresh_sets * earlier.reference_ms
    for loop in loops:
        seen, fresh = statistics.median(loop.seen_ms), statistics.median(loop.fresh_ms)
        if _material(seen * max(earlier.fresh_ratio, 1.0), fresh, loop.figure):
            return Finding(loop.figure, seen, fresh)
        before = earlier.call_ms.get(loop.figure, 0.0) * max(earlier.drift, 1.0)
        if before and _material(before, seen, loop.figure):
            return Finding(loop.figure, before, seen, "round", max(earlier.drift, 1.0))
        if loop.figure != "cpu" and _moved(loop.seen_ms + loop.fresh_ms, seen, work_ms):
            return Finding(loop.figure, seen, statistics.fmean(loop.seen_ms + loop.fresh_ms), "mean")
    if loops and loops[0].figure != "cpu" and measured.gap_ms:  # gaps on the CPU are noise: see untimed.py
        per_loop = len(measured.gap_ms) // len(measured.loops)
        # Each loop's first gap is a start: it is left out.
        gaps = [gap for index, gap in enumerate(measured.gap_ms) if index % per_loop]
        if gaps and _moved(gaps, statistics.median(gaps), work_ms):
            return Finding("gap", statistics.median(gaps), statistics.fmean(gaps), "gap")
    return None


def _moved(times_ms: list[float], median_ms: float, work_ms: float) -> bool:
    excess = sum(max(t - median_ms, 0.0) for t in times_ms)
    return excess > max(work_ms, len(times_ms) * median_ms)


def _material(seen_ms: float, fresh_ms: float, figure: str) -> bool:
    return fresh_ms > seen_ms * CALL_RATIO and fresh_ms - seen_ms > MIN_DIFFERENCE_MS[figure]


def _allowing(found: Finding) -> str:
    if found.drift <= 1.0:
        return ""
    return (
        f" ({found.seen_ms:.3g} ms allowing for the machine itself, which ran the reference {found.drift:.2f}× slower "
        "beside this round)"
    )


def _what(found: Finding) -> str:
    figure = "device kernel time" if found.figure == "gpu_kernel_time" else "time"
    if found.how == "median":
        return (
            f"on input values it had already seen the custom forward took {found.seen_ms:.3g} ms ({figure}, "
            f"median), on fresh values {found.fresh_ms:.3g} ms: {found.ratio:.1f}× faster on seen values"
        )
    if found.how == "round":
        return (
            f"on values it had seen its calls took {found.fresh_ms:.3g} ms ({figure}, median) in the round with "
            f"fresh values among them, against {found.seen_ms / found.drift:.3g} ms in the rounds before"
            f"{_allowing(found)} ({found.ratio:.1f}×)"
        )
    if found.how == "mean":
        return (
            f"in a round with fresh values among the inputs its calls took {found.fresh_ms:.3g} ms on average "
            f"({figure}) against a median of {found.seen_ms:.3g} ms ({found.ratio:.1f}×): the work for the fresh "
            "values went into a few calls"
        )
    return (
        f"in a round with fresh values among the inputs the gaps between its calls took {found.fresh_ms:.3g} ms "
        f"on average against a median of {found.seen_ms:.3g} ms ({found.ratio:.1f}×): the work for the fresh "
        "values ran where it is not timed"
    )


def accuses(found: Finding) -> bool:
    """A finding read within one round (fresh against seen values, calls or gaps): the module's doing. One across
    rounds (`round`) may be the machine's: it is answered by re-timing, not by a flag."""
    return found.how != "round"


def message(found: Finding, twice: bool = False) -> str:
    """The flag's words: both figures, by how much, and that the speedup is withheld (`twice`: a second round on new
    values found the same)."""
    again = " (the same in a second round on new values)" if twice else ""
    return (
        f"{_what(found)}{again}: it remembers results by input values instead of computing them, so its timed speed "
        "is a lookup's; no speedup is given"
    )


def retimed_message(found: Finding) -> str:
    """The warning's words when the custom side was slower on seen values in the rounds with fresh values."""
    return (
        f"{_what(found)}, and the same in a second such round: the machine slowed it alone, or it computes in full "
        "only when fresh values may come; the speedup is taken from those rounds, against the reference timed "
        "beside them, not from the rounds before"
    )


def unsteady_message(tries: list[Earlier]) -> str:
    """The flag's words when the machine stayed too busy to tell a module that computes only when checked."""
    shown = "; ".join(
        f"the reference's calls at {earlier.drift:.1f}× their earlier time, {earlier.waited:.0%} of the time "
        "waiting for a CPU"
        for earlier in tries
    )
    return (
        "a round with fresh values among the inputs looked slower on seen values than the rounds before, and "
        f"{len(tries)} more such rounds, with the reference timed beside them, ran on a machine too busy to tell "
        f"({shown}): other work took its cores, so whether the module computes only when checked cannot be told "
        "and no speedup is given; run it again on a quiet machine"
    )
