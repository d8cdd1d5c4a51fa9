"""Issue 19's rules as pure functions: the fresh-values schedule and finding, work between calls, threads left
running, and the harness watched for tampering (the engine-level cases are in tests/exploits)."""

from __future__ import annotations

import random
import threading
import time
import warnings

import pytest
import torch

from kernel_eval.stages.timing import fresh, l2
from kernel_eval.stages.timing.clocks import Clocks, harness_names
from kernel_eval.stages.timing.record import Pacing, SideRecord
from kernel_eval.stages.timing.threads import alive, started_since
from kernel_eval.stages.timing.untimed import untimed_work_flag

EARLIER = fresh.Earlier({"gpu_kernel_time": 1.0, "cpu": 1.0}, reference_ms=3.0)


def loop(seen: list[float], fresh_ms: list[float], figure: str = "gpu_kernel_time") -> fresh.LoopSplit:
    return fresh.LoopSplit(figure, seen, fresh_ms)


def reference(seen: list[float], fresh_ms: tuple[float, ...] = (), figure: str = "cpu") -> fresh.FreshTimes:
    """The reference's round of the same kind, timed beside: its calls on seen and on fresh values."""
    return fresh.FreshTimes([loop(seen, list(fresh_ms) or seen[:1], figure)])


def beside(*rounds: fresh.FreshTimes, waited: float = 0.0) -> fresh.Beside:
    return fresh.Beside(list(rounds), waited)


def test_schedule_places_each_fresh_set_once_past_the_first_call_of_every_loop():
    plan = fresh.schedule(seen=3, fresh=2, loops=2, rng=random.Random(7))
    assert plan.calls_per_loop == fresh.CALLS_PER_LOOP and len(plan.sets) == 2 * fresh.CALLS_PER_LOOP
    first, second = plan.sets[: plan.calls_per_loop], plan.sets[plan.calls_per_loop :]
    assert sorted(i for i in first if i >= 3) == [3, 4] and sorted(i for i in second if i >= 3) == [5, 6]
    assert first[0] < 3 and second[0] < 3
    assert {i for i in first if i < 3} == {0, 1, 2}
    with pytest.raises(ValueError, match="cannot hold"):
        fresh.schedule(seen=3, fresh=9, loops=1, rng=random.Random(1))


def test_fresh_sets_fit_the_memory_budget_but_never_drop_to_none():
    assert fresh.fresh_per_loop(1024, loops=2) == 2 and fresh.fresh_per_loop(1024, loops=1) == 4
    assert fresh.fresh_per_loop(fresh.FRESH_BUDGET_BYTES, loops=2) == 1


def test_split_divides_each_loops_times_by_the_set_they_were_made_on():
    plan = fresh.Schedule([0, 3, 1, 0], loops=1)
    (split,) = fresh.split(plan, 3, [("cpu", [1.0, 9.0, None, 2.0])])
    assert split.seen_ms == [1.0, 2.0] and split.fresh_ms == [9.0]


def test_an_honest_round_raises_nothing():
    times = fresh.FreshTimes([loop([1.0, 1.01, 0.99, 1.02, 1.0], [1.01, 0.98])], [0.1] * 24)
    assert fresh.finding(times, EARLIER) is None


def test_a_value_keyed_cache_is_found_with_both_figures_in_the_message():
    times = fresh.FreshTimes([loop([0.05, 0.05, 0.06, 0.05], [3.0, 3.1])])
    found = fresh.finding(times, fresh.Earlier({"gpu_kernel_time": 0.05}, 3.0))
    assert found is not None and found.how == "median" and found.ratio > 50
    words = fresh.message(found, twice=True)
    assert "0.05 ms" in words and "3.05 ms" in words and "faster on seen values" in words
    assert "second round" in words and "no speedup" in words


def test_a_module_honest_only_in_the_last_round_is_found_against_the_earlier_rounds():
    times = fresh.FreshTimes([loop([3.0, 3.0, 3.1], [3.0, 3.05])])
    found = fresh.finding(times, fresh.Earlier({"gpu_kernel_time": 0.1}, 3.0))
    assert found is not None and found.how == "round"


def test_a_round_slower_only_as_much_as_the_reference_beside_it_is_the_machine_not_the_module():
    times = fresh.FreshTimes([loop([5.0, 5.1, 4.9, 5.0], [5.0, 5.05], "cpu")])  # 1.3x the earlier 3.8 ms
    earlier = fresh.Earlier({"cpu": 3.8}, reference_ms=3.9)

    assert fresh.finding(times, earlier) is not None  # without a yardstick: taken for the module
    assert (
        fresh.finding(times, earlier.beside(beside(reference([5.1, 5.2, 5.0, 5.3])))) is None
    )  # slowed as much


def test_a_module_honest_only_in_the_last_round_is_found_on_a_machine_grown_slower():
    times = fresh.FreshTimes([loop([3.0, 3.0, 3.1], [3.0, 3.05], "cpu")])
    drifted = fresh.Earlier({"cpu": 0.14}, 2.0).beside(beside(reference([2.3, 2.4]), reference([2.3])))

    found = fresh.finding(times, drifted)

    assert found is not None and found.how == "round" and found.drift == pytest.approx(1.15)
    words = fresh.message(found, twice=True)
    assert "0.14 ms in the rounds before (0.161 ms allowing for the machine itself" in words
    assert "reference 1.15× slower" in words


def test_a_reference_faster_beside_the_round_tightens_nothing():
    faster = fresh.Earlier({"cpu": 1.0}, 2.0).beside(beside(reference([1.0, 1.0], (0.5,))))
    assert faster.drift == 0.5 and faster.fresh_ratio == 0.5
    times = fresh.FreshTimes([loop([1.2, 1.2, 1.2], [1.2, 1.2], "cpu")])  # 1.2x: under the ratio either way
    assert fresh.finding(times, faster) is None


def test_fresh_values_slower_for_the_reference_too_are_the_round_not_the_module():
    times = fresh.FreshTimes([loop([1.8, 1.8, 1.9, 1.8], [3.0, 3.1], "cpu")])  # 1.7x on fresh values
    earlier = fresh.Earlier({"cpu": 1.8}, 1.8)

    assert fresh.finding(times, earlier) is not None
    assert fresh.finding(times, earlier.beside(beside(reference([1.8, 1.9, 1.8], (2.9, 3.0))))) is None


def test_past_the_drift_limit_the_machine_is_too_busy_to_judge():
    busy = fresh.Earlier({"cpu": 1.0}, 1.0).beside(beside(reference([fresh.DRIFT_LIMIT * 1.5] * 3)))
    assert not busy.steady and busy.drift == pytest.approx(3.0)

    words = fresh.unsteady_message([busy])
    assert (
        "the reference's calls at 3.0× their earlier time, 0% of the time waiting for a CPU" in words
        and "quiet machine" in words
    )


def test_a_round_that_waited_for_a_cpu_is_too_busy_to_judge_whatever_the_reference_shows():
    """Cores oversubscribed: the reference beside came out only 1.33x slower while the custom side's calls on seen
    values took 8.7x (a CI run): whose calls a busy machine slows is chance, so no comparison holds."""
    times = fresh.FreshTimes([loop([14.1, 14.0, 13.9], [14.2, 14.0], "cpu")])
    earlier = fresh.Earlier({"cpu": 1.62}, 1.6)

    busy = earlier.beside(beside(reference([2.1, 2.2, 2.1]), waited=0.45))

    assert not busy.steady and fresh.finding(times, earlier.beside(beside(reference([2.1])))) is not None
    assert "45% of the time waiting for a CPU" in fresh.unsteady_message([busy])


def test_no_reference_beside_the_round_means_no_allowance():
    earlier = fresh.Earlier({"cpu": 1.0}, 2.0)
    assert earlier.beside(beside()) == earlier
    assert fresh.Earlier({"cpu": 1.0}).beside(beside(reference([5.0]))).drift == 1.0
    assert earlier.beside(beside(reference([], (3.0,)))) == earlier


def test_work_for_the_fresh_sets_moved_into_one_call_is_found():
    seen = [0.1] * 9
    seen[0] = 0.1 + 4 * 3.0  # the first call computes all four fresh sets at reference speed
    found = fresh.finding(fresh.FreshTimes([loop(seen, [0.1] * 2), loop([], [], "end_to_end")]), EARLIER)
    assert found is not None and found.how == "mean"


def test_work_moved_into_a_gap_is_found_on_a_gpu_and_a_stall_is_not():
    calls = fresh.FreshTimes([loop([1.0] * 10, [1.0] * 2), loop([], [], "end_to_end")])
    gaps = [0.1] * 24
    gaps[5] += 4 * 3.0
    calls.gap_ms = gaps
    found = fresh.finding(calls, EARLIER)
    assert found is not None and found.how == "gap"
    gaps[5] = 0.1 + 1.0  # one millisecond's stall: less than half the work of the fresh sets
    assert fresh.finding(calls, EARLIER) is None


def test_on_the_cpu_a_slow_first_call_is_not_moved_work():
    seen = [0.1] * 9
    seen[0] = 2.5  # threads waking after the judge's turn
    assert fresh.finding(fresh.FreshTimes([loop(seen, [0.1] * 2, "cpu")]), EARLIER) is None


def test_end_to_end_times_are_not_read():
    times = fresh.FreshTimes([loop([0.02] * 10, [0.05, 0.05], "end_to_end")])
    assert fresh.finding(times, fresh.Earlier({}, 0.03)) is None


def test_pacing_leaves_the_kept_copy_out_of_the_gap():
    pacing = Pacing()
    pacing.add(started=0.0, timed_from=0.001, timed_to=0.005, ended=0.008, keeping=0.002)
    assert pacing.gap_ms == pytest.approx([2.0])


def side(gaps: list[float], calls: list[float]) -> SideRecord:
    record = SideRecord()
    record.gap_ms, record.end_to_end_ms, record.gpu_ms = gaps, calls, calls
    return record


def test_untimed_work_is_flagged_against_the_reference_only_on_a_gpu():
    reference, custom = side([0.15] * 50, [0.05] * 50), side([1.5] * 50, [0.015] * 50)
    flag = untimed_work_flag(reference, custom, on_gpu=True)
    assert flag is not None and flag.kind == "untimed_work" and "1.5 ms" in flag.message
    assert untimed_work_flag(reference, custom, on_gpu=False) is None


def test_gaps_that_drift_with_a_long_kernel_are_not_untimed_work():
    reference, custom = side([0.13] * 50, [0.06] * 50), side([0.25] * 50, [0.415] * 50)
    assert untimed_work_flag(reference, custom, on_gpu=True) is None


def test_a_thread_started_after_the_baseline_is_named_and_tied_to_the_users_folder(tmp_path):
    baseline = alive()
    source = tmp_path / "worker_thread.py"
    source.write_text(
        "import time\n\ndef spin(stop):\n    while not stop.is_set():\n        time.sleep(0.001)\n"
    )
    namespace: dict[str, object] = {}
    exec(compile(source.read_text(), str(source), "exec"), namespace)
    stop = threading.Event()
    thread = threading.Thread(target=namespace["spin"], args=(stop,), name="cache-filler", daemon=True)
    thread.start()
    try:
        time.sleep(0.01)
        found = started_since(baseline, str(tmp_path))
        assert [t.name for t in found] == ["cache-filler"] and found[0].runs_user_code
        assert [t.runs_user_code for t in started_since(baseline, str(tmp_path / "elsewhere"))] == [False]
    finally:
        stop.set()
        thread.join()


def test_replaced_tensor_methods_and_swapped_clock_fields_are_the_harnesss(monkeypatch):
    clocks = Clocks.bind()
    assert clocks.check() == []
    monkeypatch.setattr(torch.Tensor, "copy_", lambda self, src, non_blocking=False: self)
    clocks.perf_counter = lambda: 0.0
    replaced = clocks.check()
    assert "torch.Tensor.copy_" in harness_names(replaced)
    assert "kernel_eval's bound clock perf_counter" in replaced


def test_a_dispatcher_override_and_a_mode_left_pushed_are_seen():
    clocks = Clocks.bind()
    library = torch.library.Library("aten", "IMPL")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch warns that it overrides a kernel: that is the point
        library.impl("zero_", lambda self: self, "CPU")
    try:
        assert "dispatcher kernels of aten::zero_" in harness_names(clocks.check())
    finally:
        library._destroy()
    assert clocks.check() == []
    mode = torch.overrides.TorchFunctionMode()
    mode.__enter__()
    try:
        assert any(name.startswith("mode stack") for name in harness_names(clocks.check()))
    finally:
        mode.__exit__(None, None, None)


def test_persisting_l2_reset_does_nothing_without_a_cuda_runtime():
    if torch.cuda.is_available():
        pytest.skip("this is the CPU half; tests/exploits/l2_persistence.py is the GPU one")
    l2.reset_persisting()
    assert l2.take_found() == []


def test_only_a_finding_within_one_round_accuses_one_across_rounds_retimes():
    across = fresh.Finding("cpu", 2.0, 3.0, "round", 1.1)
    assert not fresh.accuses(across)
    assert all(fresh.accuses(fresh.Finding("cpu", 2.0, 3.0, how)) for how in ("median", "mean", "gap"))
    words = fresh.retimed_message(across)
    assert "3 ms" in words and "the speedup is taken from those rounds" in words
    assert "remembers results" not in words
