"""When to stop timing: the adaptive, interleaved sampling rule (pure, no torch).

Each side is timed in rounds, reference and custom alternating, so that drift (clocks, temperature, a neighbour's
load) falls on both sides alike. After each pair of rounds, `next_round` decides from the samples so far whether
to stop and how many samples each side takes next: stop once every side has at least `min_trials` samples and its
median's 95 % interval is within ±`target_half_width`, or once a side has spent its budget.

A kernel too short for that target against the timer's granularity (CUPTI counts in 32 ns steps on an H200: ±0.5 %
of a 1.4 µs kernel is 7 ns) is precise once its interval spans at most two adjacent steps (and their ±1 ns of
rounding): more samples cannot narrow it, and used to run every such kernel to the end of its budget.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable

import attrs

from kernel_eval.stages.timing.record import Round, SideRecord
from kernel_eval.stages.timing.stats import TICK_NOISE_MS, TIME_FLOOR_MS, relative_half_width, tick_ms

# ±0.5 % of the median, 95 % confidence: at ±1 % the ratio of two medians still moves by ~1.7 % (max/min) over
# five runs, too close to issue 9's 2 % spread. Halving it costs 4x the samples, which the budget bounds anyway
TARGET_HALF_WIDTH = 0.005
SIDE_BUDGET_S = 1.0  # wall time each side may spend sampling, warm-up excluded
ROUND_S = 0.1  # a round aims at about this much wall time, so that rounds interleave finely
MAX_ROUND = 5000  # samples in one round at most (bounds a round's memory and profiler trace)
SETTLE_TOLERANCE = 0.03  # warm-up ends when successive batch medians agree within 3 %
SETTLE_BATCH = 5
WARMUP_BUDGET_S = 0.5
TICK_SAMPLES = 100  # samples a side needs before the timer's step, read from them, may relax its target


@attrs.define(frozen=True)
class StopRule:
    min_trials: int = 10
    target_half_width: float = TARGET_HALF_WIDTH
    budget_s: float = SIDE_BUDGET_S
    round_s: float = ROUND_S
    max_round: int = MAX_ROUND
    tick_samples: int = TICK_SAMPLES


@attrs.define
class Side:
    """What one side has measured so far: the figure the rule watches, and the wall time it took."""

    samples_ms: list[float] = attrs.Factory(list)
    spent_s: float = 0.0

    def add(self, samples_ms: list[float], spent_s: float) -> None:
        self.samples_ms.extend(samples_ms)
        self.spent_s += spent_s

    def precise(self, rule: StopRule) -> bool:
        return len(self.samples_ms) >= rule.min_trials and (
            relative_half_width(self.samples_ms) <= self.target(rule)
        )

    def target(self, rule: StopRule) -> float:
        """The relative half-width to reach: the rule's, or half the timer's step where that is wider."""
        if len(self.samples_ms) < rule.tick_samples:
            return rule.target_half_width
        tick = tick_ms(self.samples_ms)
        if tick == 0.0:
            return rule.target_half_width
        two_steps = (tick + TICK_NOISE_MS) / 2.0 / max(statistics.median(self.samples_ms), TIME_FLOOR_MS)
        return max(rule.target_half_width, two_steps)

    def exhausted(self, rule: StopRule) -> bool:
        return len(self.samples_ms) >= rule.min_trials and self.spent_s >= rule.budget_s


@attrs.define(frozen=True)
class Decision:
    stop: bool
    reason: str
    """One of "precise", "tick" (precise to the timer's step), "budget", or "" while going on."""
    reference_count: int = 0
    """Samples to take in the next round."""
    custom_count: int = 0


def first_round(rule: StopRule) -> int:
    """Samples in each side's first round: the minimum, so that a slow kernel costs no more than asked."""
    return rule.min_trials


def next_round(reference: Side, custom: Side, rule: StopRule) -> Decision:
    """Stop, or how many samples each side takes next."""
    sides = (reference, custom)
    if all(side.precise(rule) for side in sides):
        strict = all(relative_half_width(side.samples_ms) <= rule.target_half_width for side in sides)
        return Decision(True, "precise" if strict else "tick")
    if any(side.exhausted(rule) for side in sides):
        return Decision(True, "budget")
    return Decision(False, "", _round_size(reference, rule), _round_size(custom, rule))


def _round_size(side: Side, rule: StopRule) -> int:
    n = len(side.samples_ms)
    if n < rule.min_trials:
        return rule.min_trials - n
    per_sample_s = side.spent_s / max(n, 1)
    by_round = int(rule.round_s / per_sample_s) if per_sample_s > 0 else rule.max_round
    if side.precise(rule):  # keeps interleaving, lightly, while the other side catches up
        return max(1, min(n // 4, by_round, rule.max_round))
    # the interval narrows like 1/sqrt(n): the samples that would reach the target, plus a margin
    width = relative_half_width(side.samples_ms)
    wanted = math.ceil(n * (width / side.target(rule)) ** 2 * 1.1) - n
    left = (
        int(max(rule.budget_s - side.spent_s, 0.0) / per_sample_s) + 1 if per_sample_s > 0 else rule.max_round
    )
    return max(1, min(wanted, by_round, left, rule.max_round))


def settled(batch_medians_ms: list[float], tolerance: float = SETTLE_TOLERANCE) -> bool:
    """Warm-up is over when the last two batch medians agree within tolerance (first-call compiles, clock ramp-up
    and cold caches show as a falling sequence)."""
    if len(batch_medians_ms) < 2:
        return False
    last, previous = batch_medians_ms[-1], batch_medians_ms[-2]
    return abs(last - previous) <= tolerance * max(min(last, previous), 1e-9)


Measure = Callable[[int, bool], Round]  # (samples to take, first round?) -> what the side measured


def interleave(
    measure_reference: Measure, measure_custom: Measure, rule: StopRule
) -> tuple[SideRecord, SideRecord, str]:
    """Alternate rounds (reference first) until `next_round` says stop. Returns both sides' records and why it
    stopped.

    The rule watches each side's headline samples (device kernel time when measured, else end-to-end)."""
    reference, custom = SideRecord(), SideRecord()
    counts = (first_round(rule), first_round(rule))
    first = True
    while True:
        if counts[0]:
            reference.add(measure_reference(counts[0], first))
        if counts[1]:
            custom.add(measure_custom(counts[1], first))
        first = False
        decision = next_round(_side(reference), _side(custom), rule)
        if decision.stop:
            return reference, custom, decision.reason
        counts = (decision.reference_count, decision.custom_count)


def _side(record: SideRecord) -> Side:
    return Side(list(record.headline_ms), record.wall_s)
