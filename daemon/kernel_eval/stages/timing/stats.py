"""Pure statistics of timing samples: summaries, a distribution-free confidence interval for a median, and the
speedup with its interval. No torch: the parent uses these on plain lists of milliseconds."""

from __future__ import annotations

import itertools
import math
import statistics

from kernel_eval.result import TimingStats

TIME_FLOOR_MS = 1e-6
TICK_NOISE_MS = 2e-6  # 2 ns: how far a duration rounded to the timer's step strays from a multiple of it
TICK_SHARE = 0.05
CONFIDENCE = 0.95
_EXACT_BINOMIAL_MAX_N = 1000  # beyond this the normal approximation of Binomial(n, 1/2) is within rounding


def median_ci(times_ms: list[float], confidence: float = CONFIDENCE) -> tuple[float, float]:
    """A confidence interval for the population median from order statistics (no assumption on the
    distribution): [x_(k), x_(n-k+1)] with the largest k such that P(k <= Binomial(n, 1/2) <= n-k) >= confidence.

    With too few samples for that confidence (n < 6 at 95 %), the whole range of the samples.
    """
    if not times_ms:
        raise ValueError("no timings for a confidence interval")
    ordered = sorted(times_ms)
    k = _order_statistic_rank(len(ordered), confidence)
    if k == 0:
        return ordered[0], ordered[-1]
    return ordered[k - 1], ordered[len(ordered) - k]


def _order_statistic_rank(n: int, confidence: float) -> int:
    """Largest k >= 1 (1-based rank) with P(k <= B <= n-k) >= confidence, B ~ Binomial(n, 1/2). 0 if none."""
    alpha_each_side = (1.0 - confidence) / 2.0
    if n > _EXACT_BINOMIAL_MAX_N:
        z = statistics.NormalDist().inv_cdf(1.0 - alpha_each_side)
        return max(math.floor(n / 2.0 - z * math.sqrt(n) / 2.0), 0)
    # P(B <= k-1) must stay <= alpha_each_side. Walk the lower tail in log space (0.5**n underflows past 1074)
    log_half_n = n * math.log(0.5)
    tail = 0.0
    k = 0
    for j in range(n + 1):
        tail += math.exp(math.lgamma(n + 1) - math.lgamma(j + 1) - math.lgamma(n - j + 1) + log_half_n)
        if tail > alpha_each_side:
            break
        k = j + 1  # P(B <= j) <= alpha: rank j+1 is a valid lower bound
    return min(k, n // 2)


def relative_half_width(times_ms: list[float], confidence: float = CONFIDENCE) -> float:
    """Half the median's confidence interval, as a fraction of the median (0.01 = ±1 %)."""
    low, high = median_ci(times_ms, confidence)
    return (high - low) / 2.0 / max(statistics.median(times_ms), TIME_FLOOR_MS)


def tick_ms(times_ms: list[float]) -> float:
    """The timer's step as the samples show it (0 where they show none). CUPTI on an H200 gives durations in steps
    of 32 ns, each ±1 ns from rounding both timestamps: a 1.4 µs kernel's median cannot be pinned closer than a step,
    however many samples are taken.

    Distinct values within TICK_NOISE_MS of each other are one step. The step is the smallest gap between two
    adjacent steps that each hold at least TICK_SHARE of the samples. A fine clock shows no such pair: its values
    run together into one group."""
    groups: list[list[float]] = []
    for value in sorted(times_ms):
        if groups and value - groups[-1][-1] <= TICK_NOISE_MS:
            groups[-1].append(value)
        else:
            groups.append([value])
    least = TICK_SHARE * len(times_ms)
    gaps = [
        statistics.fmean(high) - statistics.fmean(low)
        for low, high in itertools.pairwise(groups)
        if len(low) >= least and len(high) >= least
    ]
    return min(gaps) if gaps else 0.0


def summarize(times_ms: list[float]) -> TimingStats:
    if not times_ms:
        raise ValueError("no timings to summarize")
    if len(times_ms) == 1:
        p25 = p75 = times_ms[0]
        std = 0.0
    else:
        p25, _, p75 = statistics.quantiles(times_ms, n=4, method="inclusive")
        std = statistics.stdev(times_ms)
    low, high = median_ci(times_ms)
    return TimingStats(
        median_ms=statistics.median(times_ms),
        iqr_ms=p75 - p25,
        mean_ms=statistics.fmean(times_ms),
        std_ms=std,
        min_ms=min(times_ms),
        max_ms=max(times_ms),
        trials=len(times_ms),
        ci95_ms=[low, high],
    )


def speedup(ref: TimingStats, custom: TimingStats) -> float:
    """Reference median / custom median (> 1: the custom kernel is faster). Finite even for zero times."""
    return max(ref.median_ms, TIME_FLOOR_MS) / max(custom.median_ms, TIME_FLOOR_MS)


def speedup_ci95(ref_ms: list[float], custom_ms: list[float]) -> list[float]:
    """[lo, hi] holding reference median / custom median with at least 95 % confidence.

    Each median gets a 97.5 % order-statistic interval. The ratio's extremes over the two intervals then hold with
    probability >= 95 % (Bonferroni), whatever the distributions: conservative, deterministic, no resampling.
    """
    per_side = 1.0 - (1.0 - CONFIDENCE) / 2.0
    ref_low, ref_high = median_ci(ref_ms, per_side)
    custom_low, custom_high = median_ci(custom_ms, per_side)
    return [
        max(ref_low, TIME_FLOOR_MS) / max(custom_high, TIME_FLOOR_MS),
        max(ref_high, TIME_FLOOR_MS) / max(custom_low, TIME_FLOOR_MS),
    ]
