"""Timing's pure parts: the median's interval, the speedup's interval, the adaptive interleaved stop rule, and how
the user's Timing and flags are assembled."""

from __future__ import annotations

import json
import random

import pytest

from kernel_eval.stages.timing import sampling
from kernel_eval.stages.timing.assemble import Bytes, assemble
from kernel_eval.stages.timing.record import Round, SideRecord
from kernel_eval.stages.timing.sampling import Side, StopRule, interleave, next_round, settled
from kernel_eval.stages.timing.stats import median_ci, relative_half_width, speedup_ci95, tick_ms


def noisy(center: float, spread: float, n: int, seed: int) -> list[float]:
    rng = random.Random(seed)
    return [center * (1 + rng.uniform(-spread, spread)) for _ in range(n)]


def test_median_ci_order_statistics_known_ranks():
    assert median_ci([3.0, 1.0, 2.0, 5.0, 4.0]) == (1.0, 5.0)  # n=5: 95 % needs the whole range
    assert median_ci([float(i) for i in range(1, 7)]) == (1.0, 6.0)  # n=6: [x(1), x(6)] covers 96.9 %
    assert median_ci([float(i) for i in range(1, 101)]) == (40.0, 61.0)  # textbook: n=100 -> x(40), x(61)


def test_median_ci_large_n_uses_normal_ranks_and_stays_centred():
    values = [float(i) for i in range(1, 4001)]
    low, high = median_ci(values)
    assert low == pytest.approx(2000 - 62, abs=2) and high == pytest.approx(
        2001 + 62, abs=2
    )  # 1.96*sqrt(n)/2


def test_median_ci_covers_the_true_median_about_95_percent():
    rng = random.Random(1)
    hits = 0
    for _ in range(2000):
        sample = [rng.expovariate(1.0) for _ in range(40)]  # skewed: the median is ln 2
        low, high = median_ci(sample)
        hits += low <= 0.6931 <= high
    assert 0.94 <= hits / 2000 <= 0.99


def test_relative_half_width():
    assert relative_half_width([1.0] * 20) == 0.0
    assert relative_half_width([float(i) for i in range(1, 101)]) == pytest.approx((61 - 40) / 2 / 50.5)


def test_speedup_ci95_brackets_the_ratio_and_holds_one_for_identical_sides():
    ref, custom = noisy(2.0, 0.05, 200, 1), noisy(1.0, 0.05, 200, 2)
    low, high = speedup_ci95(ref, custom)
    assert low < 2.0 < high and high - low < 0.1
    low, high = speedup_ci95(noisy(1.0, 0.05, 200, 3), noisy(1.0, 0.05, 200, 4))
    assert low < 1.0 < high
    assert speedup_ci95([1.0] * 10, [0.0] * 10) == [pytest.approx(1e6), pytest.approx(1e6)]  # finite


def test_stop_rule_stops_when_both_medians_are_precise():
    rule = StopRule(min_trials=10)
    tight = Side(noisy(1.0, 0.001, 10, 1), 0.01)
    decision = next_round(tight, Side(noisy(2.0, 0.001, 10, 2), 0.01), rule)
    assert decision.stop and decision.reason == "precise"


def test_stop_rule_never_stops_below_the_minimum_even_out_of_budget():
    rule = StopRule(min_trials=10, budget_s=1.0)
    few = Side([1.0] * 4, 5.0)  # a slow kernel: budget gone after 4 samples
    decision = next_round(few, Side([1.0] * 10, 0.1), rule)
    assert not decision.stop and decision.reference_count == 6


def test_stop_rule_goes_on_while_noisy_then_stops_on_budget():
    rule = StopRule(min_trials=10, budget_s=1.0, round_s=0.1)
    ref, custom = Side(noisy(1.0, 0.3, 20, 1), 0.2), Side(noisy(1.0, 0.001, 20, 2), 0.2)
    decision = next_round(ref, custom, rule)
    assert not decision.stop
    assert 1 <= decision.reference_count <= 200  # a round is ~0.1 s at 10 ms a sample
    assert 1 <= decision.custom_count <= 5  # the precise side only keeps interleaving, lightly
    ref.spent_s = 1.0
    assert next_round(ref, custom, rule) == sampling.Decision(True, "budget")


def test_round_size_aims_at_the_samples_the_target_needs():
    rule = StopRule(min_trials=10, target_half_width=0.01, budget_s=100.0, round_s=100.0)
    side = Side(noisy(1.0, 0.1, 100, 5), 0.01)
    needed = next_round(side, side, rule).reference_count
    width = relative_half_width(side.samples_ms)
    assert needed == pytest.approx(100 * (width / 0.01) ** 2 * 1.1 - 100, abs=2)


STEP_MS = 32e-6  # CUPTI's step on an H200: durations come in multiples of 32 ns


def stepped(center_ms: float, n: int, seed: int) -> list[float]:
    """Device times as CUPTI gives them on an H200: a jittery duration in steps of 32 ns, each ±1 ns (both
    timestamps are rounded)."""
    rng = random.Random(seed)
    return [
        round(center_ms * (1 + rng.gauss(0, 0.02)) / STEP_MS) * STEP_MS + rng.choice((-1e-6, 0.0, 0.0, 1e-6))
        for _ in range(n)
    ]


def test_tick_is_the_gap_between_adjacent_steps_that_hold_samples():
    assert tick_ms(stepped(1.4e-3, 500, 1)) == pytest.approx(STEP_MS, abs=1e-6)
    assert tick_ms([1.0] * 50) == 0.0 and tick_ms([]) == 0.0
    assert tick_ms([1.0] * 10 + [1.0 + 1e-15] * 10 + [1.5] * 10) == pytest.approx(
        0.5
    )  # float noise: one step
    assert tick_ms([1.0] * 50 + [1.5] * 50 + [9.0]) == pytest.approx(0.5)  # a lone value is not a step
    assert tick_ms([1.0] * 50 + [1.5] + [3.0] * 50) == 0.0  # nor are steps with a lone value between them
    fine = [1.4e-3 + random.Random(2).gauss(0, 3e-5) for _ in range(500)]  # 1 ns clock, 30 ns jitter
    assert tick_ms([round(t, 6) for t in fine]) == 0.0  # its values run together: no step


def test_a_kernel_shorter_than_the_timer_can_resolve_is_precise_once_within_two_steps():
    """A 1.4 µs kernel timed in 32 ns steps: ±0.5 % is 7 ns, which no number of samples reaches, so it used to
    spend the whole budget; now it stops once its median's interval spans at most two adjacent steps."""
    rule = StopRule(min_trials=10)
    between = 43.5 * STEP_MS  # 1.39 µs, half-way between two steps: the samples' median flips between them
    tiny = Side(stepped(between, 300, 3), 0.2)
    low, high = median_ci(tiny.samples_ms)
    assert high - low <= STEP_MS + 2e-6 and relative_half_width(tiny.samples_ms) > rule.target_half_width
    assert tiny.precise(rule)
    assert next_round(tiny, Side(stepped(between, 300, 4), 0.2), rule) == sampling.Decision(True, "tick")
    # too few samples to read the timer's step from: the rule's own target
    assert not Side(tiny.samples_ms[:50], 0.05).precise(rule)


def test_the_timer_step_does_not_relax_kernels_long_enough_to_resolve():
    rule = StopRule(min_trials=10)
    long = Side(stepped(0.1, 2000, 5), 0.5)  # 100 µs: ±0.5 % is 500 ns, sixteen steps
    assert long.target(rule) == rule.target_half_width
    assert long.precise(rule) == (relative_half_width(long.samples_ms) <= 0.005)
    noisy_fine = Side(noisy(1.4e-3, 0.2, 300, 6), 0.2)  # short, but a fine clock: nothing to relax
    assert noisy_fine.target(rule) == pytest.approx(rule.target_half_width, rel=0.2)


def test_interleave_stops_a_tiny_kernel_on_the_timer_step_well_within_budget():
    rng = random.Random(8)

    def measure(count: int, first: bool) -> Round:
        samples = [
            round(43.5 * (1 + rng.gauss(0, 0.02))) * STEP_MS + rng.choice((-1e-6, 0.0, 1e-6))
            for _ in range(count)
        ]
        return Round(samples, samples, count * 7.5e-4)  # 0.75 ms of wall time a sample, as on an H200

    ref, custom, reason = interleave(measure, measure, StopRule(min_trials=10))
    assert reason == "tick"
    assert ref.wall_s < 0.5 and custom.wall_s < 0.5  # the budget is 1 s a side


def test_interleave_alternates_reference_first_and_meets_the_minimum():
    order: list[str] = []
    rng = random.Random(7)

    def measure(name: str, center: float):
        def take(count: int, first: bool) -> Round:
            order.append(f"{name}{'*' if first else ''}")
            samples = [center * (1 + rng.uniform(-0.05, 0.05)) for _ in range(count)]
            return Round([s * 1.1 for s in samples], samples, count * 1e-4, warmup_calls=5 if first else 0)

        return take

    ref, custom, reason = interleave(measure("ref", 2.0), measure("custom", 1.0), StopRule(min_trials=12))
    assert reason == "precise"
    assert order[:4] == ["ref*", "custom*", "ref", "custom"]  # warm-up in each side's first round only
    assert all(order[i][0] != order[i + 1][0] for i in range(len(order) - 1))
    assert ref.gpu_ms is not None and custom.gpu_ms is not None
    assert (
        len(ref.gpu_ms) >= 12 and len(custom.gpu_ms) >= 12 and len(custom.end_to_end_ms) == len(custom.gpu_ms)
    )
    assert relative_half_width(ref.gpu_ms) <= 0.005 and relative_half_width(custom.gpu_ms) <= 0.005
    assert ref.warmup_calls == 5


def test_interleave_stops_on_budget_for_hopeless_noise():
    rng = random.Random(3)

    def measure(count: int, first: bool) -> Round:
        return Round([rng.uniform(0.1, 10.0) for _ in range(count)], None, 0.05 * count)

    ref, _, reason = interleave(measure, measure, StopRule(min_trials=10, budget_s=1.0))
    assert reason == "budget" and len(ref.headline_ms) >= 10 and ref.gpu_ms is None


def test_warm_up_settles_when_batches_agree():
    assert not settled([5.0])
    assert not settled([5.0, 1.2])  # first calls compile / ramp up
    assert settled([5.0, 1.2, 1.21])
    assert not settled([1.0, 1.1], tolerance=0.03)


def record(gpu: list[float] | None, e2e: list[float], outlived: int = 0) -> SideRecord:
    side = SideRecord()
    side.add(Round(e2e, gpu, wall_s=0.1, outlived=outlived, warmup_calls=5))
    return side


def test_assemble_uses_gpu_time_as_headline_and_reports_end_to_end():
    ref = record([2.0] * 20, [2.2] * 20)
    custom = record([1.0] * 20, [1.3] * 20)
    timing, flags = assemble(ref, custom, True, "precise")
    assert timing.figure == "gpu_kernel_time" and timing.speedup == 2.0
    assert timing.speedup_ci95 == [2.0, 2.0]
    assert timing.end_to_end_speedup == pytest.approx(2.2 / 1.3)
    assert timing.custom_end_to_end is not None and timing.custom_end_to_end.median_ms == 1.3
    assert timing.reference.trials == 20 and flags == []
    assert "CUPTI" in timing.method and "±0.5 %" in timing.method


def test_assemble_falls_back_to_end_to_end_without_device_times():
    timing, _ = assemble(record(None, [2.0] * 10), record([1.0] * 10, [1.0] * 10), True, "budget")
    assert timing.figure == "end_to_end" and timing.speedup == 2.0 and timing.reference_end_to_end is None
    cpu, _ = assemble(record(None, [2.0] * 10), record(None, [1.0] * 10), False, "precise")
    assert not cpu.meaningful and "not meaningful" in cpu.method


def test_assemble_flags_tampering_side_streams_and_the_floor():
    ref, custom = record([1.0] * 10, [1.0] * 10), record([0.001] * 10, [0.01] * 10, outlived=3)
    bytes_moved = Bytes(reference=10**9, custom=10**9, bandwidth_bytes_per_s=2e12)  # floor: 0.5 ms
    timing, flags = assemble(ref, custom, True, "precise", bytes_moved, tampered=["time.perf_counter"])
    assert [f.kind for f in flags] == ["clock_tampered", "side_stream", "below_physical_floor"]
    assert "time.perf_counter" in flags[0].message and "not valid" in timing.method
    assert timing.floor is not None and timing.floor.reference_percent == pytest.approx(50.0)
    assert timing.floor.custom_percent == pytest.approx(50000.0)


def test_host_work_hidden_from_kernel_time_is_warned_about():
    ref = record([1.0] * 10, [1.05] * 10)
    host_bound = record([0.1] * 10, [2.0] * 10)  # 0.1 ms of kernels, 2 ms end to end: computed on the CPU
    timing, flags = assemble(ref, host_bound, True, "precise")
    assert timing.speedup == pytest.approx(10.0) and timing.end_to_end_speedup == pytest.approx(0.525)
    assert [(f.kind, f.severity.value) for f in flags] == [("host_time", "warning")]
    _, flags = assemble(ref, record([0.5] * 10, [0.52] * 10), True, "precise")
    assert flags == []  # end to end agrees with kernel time
    _, flags = assemble(record([0.01] * 10, [0.02] * 10), record([0.005] * 10, [0.03] * 10), True, "precise")
    assert flags == []  # a launch-sized gap (25 µs) is not reported


def test_side_record_drops_device_times_once_a_round_lacks_them():
    side = record([1.0, 2.0], [3.0, 4.0])
    assert side.headline_ms == [1.0, 2.0] and side.wall_s == pytest.approx(0.1)
    side.add(Round([5.0], None, 0.1))
    assert side.gpu_ms is None and side.headline_ms == [3.0, 4.0, 5.0]


def test_a_gpu_timing_survives_the_json_round_trip():
    from kernel_eval.result import EvalResult, Phase, SourceInfo, Verdict

    ref, custom = record([1.0] * 10, [1.1] * 10), record([0.5] * 10, [0.6] * 10, outlived=1)
    timing, flags = assemble(ref, custom, True, "precise", Bytes(10**6, 10**6, 2e12))
    result = EvalResult(
        Verdict.CORRECT, Phase.DONE, SourceInfo("r.py", "Model"), SourceInfo("c.py", "ModelNew"), "cuda:0"
    )
    result.timing, result.flags = timing, flags
    again = EvalResult.from_dict(json.loads(result.to_json()))
    assert again == result and again.timing is not None and again.timing.floor is not None
    assert again.exit_code == 1 and again.flags[0].kind == "side_stream"
