"""Timing's guards: tamper-evident clocks, the physical floor's arithmetic, reading CUPTI records per call (side
streams), and fresh inputs while timing."""

from __future__ import annotations

import importlib.util
import random
import sys
import time
from pathlib import Path

import pytest
import torch

from kernel_eval.stages.timing import fresh
from kernel_eval.stages.timing.clocks import WATCHED, Clocks, tamper_message
from kernel_eval.stages.timing.floor import (
    FloorCheck,
    below_floor,
    below_floor_message,
    count_bytes,
    floor_ms,
)
from kernel_eval.stages.timing.rotation import SAMPLED, Rotation
from kernel_eval.stages.timing.trace import FORWARD_RANGE, MARKER_RANGE, PREPARE_RANGE, Activity, calls

CHEAT = """
import time
_real = time.perf_counter
time.perf_counter = lambda: _real() / 1000.0  # every interval 1000x shorter
"""


def test_clocks_unchanged_report_nothing():
    assert Clocks.bind().check() == []
    assert ("time", "perf_counter") in WATCHED and ("torch.cuda", "Event.record") in WATCHED


def test_module_patching_perf_counter_at_import_is_detected(tmp_path: Path):
    original = time.perf_counter
    clocks = Clocks.bind()  # worker startup: before the user's module is imported
    path = tmp_path / "cheat.py"
    path.write_text(CHEAT)
    spec = importlib.util.spec_from_file_location("cheat_module", path)
    assert spec is not None and spec.loader is not None
    try:
        spec.loader.exec_module(importlib.util.module_from_spec(spec))
        assert time.perf_counter is not original
        assert clocks.check() == ["time.perf_counter"]
        assert clocks.perf_counter is original  # the timer still holds the real one
    finally:
        time.perf_counter = original
        sys.modules.pop("cheat_module", None)
    assert clocks.check() == []


def test_patched_methods_and_deleted_names_are_detected(monkeypatch):
    clocks = Clocks.bind()
    monkeypatch.setattr(torch.cuda.Event, "record", lambda self, stream=None: None)
    monkeypatch.delattr(torch.cuda, "synchronize")
    monkeypatch.setattr(torch.profiler.profile, "__exit__", lambda *args: None)
    assert set(clocks.check()) == {
        "torch.cuda.Event.record",
        "torch.cuda.synchronize",
        "torch.profiler.profile.__exit__",
    }
    assert clocks.original("torch.cuda.synchronize") is not None


def test_tamper_message_names_what_was_replaced():
    text = tamper_message([f"time.f{i}" for i in range(8)])
    assert "time.f0" in text and "2 more" in text and "cannot be trusted" in text


def test_count_bytes_nested_outputs_params_and_aliases():
    a, b = torch.zeros(10, dtype=torch.float32), torch.zeros(4, dtype=torch.float64)
    assert count_bytes(a) == 40
    assert count_bytes([a, (b, {"x": a})]) == 40 + 32  # `a` twice: one storage
    assert count_bytes(a[:5]) == 20  # a view reaches only its elements
    assert count_bytes(a, a[:5]) == 40  # a view of a counted tensor adds nothing
    linear = torch.nn.Linear(8, 4)  # 32 weights + 4 biases, float32
    norm = torch.nn.BatchNorm1d(4)  # 2x4 parameters, 2x4 float32 + 1 int64 buffers
    assert count_bytes(linear) == 36 * 4
    assert count_bytes(norm) == 16 * 4 + 8
    assert count_bytes(linear, [a], {"out": (b,)}, None, 3, "text") == 144 + 40 + 32


def test_floor_arithmetic():
    assert floor_ms(2 * 10**9, 2e12) == pytest.approx(1.0)  # 2 GB at 2 TB/s: 1 ms
    assert floor_ms(100, 0.0) == 0.0
    assert below_floor(0.5, 2 * 10**9, 2e12)  # 2x faster than a copy: below (margin 1.5)
    assert not below_floor(0.8, 2 * 10**9, 2e12)  # 1.25x: within the margin
    check = FloorCheck(2 * 10**9, 2.0, 2e12)
    assert check.floor_ms == pytest.approx(1.0) and check.percent_of_copy_bandwidth == pytest.approx(50.0)
    assert not check.below
    zero = FloorCheck(
        10**6, 0.0, 1e12
    )  # no device work at all: below, and still a finite number for the JSON
    assert zero.below and zero.percent_of_copy_bandwidth == pytest.approx(1e5)


def test_floor_flag_only_when_the_reference_respects_it():
    fast = FloorCheck(10**9, 0.01, 2e12)
    honest = FloorCheck(10**9, 1.0, 2e12)
    message = below_floor_message(fast, honest)
    assert message is not None and "below the" in message
    assert below_floor_message(fast, FloorCheck(10**9, 0.01, 2e12)) is None  # both: the count is what's wrong
    assert below_floor_message(honest, honest) is None


def host(name: str, start: int, end: int, correlation: int = 0) -> Activity:
    kind = "user_annotation" if name.startswith("kernel_eval::") else "cpu_op"
    return Activity(name, kind, start, end, False, correlation=correlation)


def gpu(name: str, start: int, end: int, stream: int = 7, linked: int = 0, kind: str = "kernel") -> Activity:
    return Activity(name, kind, start, end, True, stream=stream, linked=linked)


def test_trace_sums_every_stream_and_excludes_flush_and_marker():
    activities = [
        gpu("fill_flush", 0, 50),  # the flush, before the window
        host(FORWARD_RANGE, 100, 120, 1),
        host("aten::mm", 101, 110, 2),
        gpu("gemm", 115, 215, linked=2),
        gpu("Memcpy DtoD", 215, 225, kind="gpu_memcpy"),
        gpu("side", 130, 170, stream=9),
        gpu(FORWARD_RANGE, 115, 225, kind="gpu_user_annotation"),
        host(MARKER_RANGE, 121, 300, 3),
        gpu("spin_kernel", 226, 228, linked=3),
        gpu("cudaDeviceSynchronize", 228, 290, kind="cuda_sync"),
    ]
    (call,) = calls(activities)
    assert call.device_ns == 100 + 10 + 40 and call.kernels == 3
    assert call.streams == frozenset({7, 9}) and call.marker_found and not call.outlived


def test_trace_flags_work_that_outlives_the_marker_on_another_stream():
    activities = [
        host(FORWARD_RANGE, 100, 110, 1),
        gpu("side_gemm", 105, 900, stream=9),
        host(MARKER_RANGE, 111, 1000, 2),
        gpu("spin_kernel", 112, 114, stream=7, linked=2),
        host(FORWARD_RANGE, 1100, 1110, 3),
        host("aten::mm", 1101, 1109, 4),
        gpu("gemm", 1105, 1900, linked=4),
        host(MARKER_RANGE, 1111, 2000, 5),
        host("aten::fill_", 1112, 1113, 6),
        gpu("fill", 1900, 1901, linked=6),
    ]
    first, second = calls(activities)
    assert first.outlived and first.device_ns == 795
    assert not second.outlived and second.device_ns == 795 and second.marker_found


def test_trace_follows_launch_links_whatever_the_device_clock_says():
    skew = 10_000  # device clock 10 µs late: every device record lands in the next range by time
    activities = [
        host(PREPARE_RANGE, 0, 90, 1),
        host("aten::copy_", 1, 5, 2),
        gpu("copy_fresh_values", 80 + skew, 85 + skew, linked=2, kind="gpu_memcpy"),
        host(FORWARD_RANGE, 100, 120, 3),
        host("aten::mm", 101, 110, 4),
        gpu("gemm", 115 + skew, 215 + skew, linked=4),
        host(MARKER_RANGE, 121, 300, 5),
        gpu("spin_kernel", 226 + skew, 228 + skew, linked=5),
        host(PREPARE_RANGE, 301, 400, 6),
        host("aten::fill_", 302, 305, 7),
        gpu("flush", 310 + skew, 390 + skew, linked=7),
        host(FORWARD_RANGE, 401, 410, 8),
        host(MARKER_RANGE, 411, 500, 9),
        gpu("spin_kernel", 420 + skew, 421 + skew, linked=9),
    ]
    first, second = calls(activities)
    assert first.device_ns == 100 and first.marker_found and first.kernels == 1
    assert second.device_ns == 0 and second.marker_found  # the flush linked to its prepare range: nobody's


def test_trace_without_a_marker_is_reported_as_such():
    activities = [host(FORWARD_RANGE, 0, 10, 1), gpu("k", 5, 9), host(MARKER_RANGE, 11, 20, 2)]
    (call,) = calls(activities)
    assert not call.marker_found and not call.outlived and call.device_ns == 4


def test_rotation_refreshes_the_same_tensors_in_place_and_keeps_a_random_sample_of_copies():
    sets = [([torch.full((2,), float(i))], {"scale": torch.tensor(float(i + 1))}) for i in range(3)]
    seen_ids = set()
    buffer = torch.zeros(2)

    def forward(x: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
        seen_ids.add(id(x))
        buffer.copy_(x * scale)  # the same buffer each time: what is kept must be a copy
        return buffer

    rotation = Rotation(forward, sets, audit=True)
    for i in range(40):
        rotation.before()
        rotation.after(i, 40, rotation())
    assert rotation.calls == 40 and len(seen_ids) == 1  # one live tensor, fresh values
    kept = rotation.take_kept()
    assert len(kept) == SAMPLED
    expected = {0: 0.0, 1: 2.0, 2: 6.0}  # set i holds i, scaled by i + 1
    assert all(output[0].item() == expected[index] for index, output in kept)
    assert rotation.take_kept() == []  # taken once
    assert sets[0][0][0][0].item() == 0.0  # the sets themselves are never written


def test_rotation_sample_differs_from_run_to_run():
    """Which calls are kept is drawn after each call returns: two identical runs keep different calls."""

    def kept_calls() -> list[int]:
        calls = []

        def forward(x: torch.Tensor) -> torch.Tensor:
            calls.append(len(calls))
            return x + len(calls)

        rotation = Rotation(forward, [([torch.zeros(1)], {})], audit=True)
        for i in range(200):
            rotation.before()
            rotation.after(i, 200, rotation())
        return sorted(int(output.item()) for _, output in rotation.take_kept())

    assert kept_calls() != kept_calls()


def test_a_fresh_round_keeps_every_fresh_call():
    sets = [([torch.full((2,), float(i))], {}) for i in range(3)]
    fresh_sets = [([torch.full((2,), 10.0 + i)], {}) for i in range(3)]
    rotation = Rotation(lambda x: x * 2, sets, audit=True)
    plan = fresh.schedule(3, 3, 1, random.Random(1))
    rotation.plan(plan, fresh_sets)
    for i in range(plan.calls_per_loop):
        rotation.before()
        rotation.after(i, plan.calls_per_loop, rotation())
    kept = rotation.take_kept()
    on_fresh = sorted((index, output[0].item()) for index, output in kept if index >= 3)
    assert on_fresh == [(3, 20.0), (4, 22.0), (5, 24.0)]
    assert all(output[0].item() == 2.0 * index for index, output in kept if index < 3)


def test_rotation_keeps_nothing_without_audit_and_refuses_mismatched_sets():
    rotation = Rotation(lambda x: x + 1, [([torch.zeros(2)], {})])
    rotation.before()
    rotation.after(0, 1, rotation())
    assert rotation.take_kept() == []
    with pytest.raises(ValueError, match="at least one"):
        Rotation(lambda x: x, [])
    with pytest.raises(ValueError, match="shape or dtype"):
        Rotation(lambda x: x, [([torch.zeros(2)], {}), ([torch.zeros(3)], {})])
