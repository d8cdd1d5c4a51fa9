"""GpuGate: evaluations on one GPU check side by side and are each timed alone; a pair waiting to be timed holds off
new checks; a cancelled wait leaves the gate usable."""

from __future__ import annotations

import threading
import time

import pytest

from kernel_eval.engine.gpu_gate import GpuGate
from kernel_eval.protocol.channel import ChannelAborted


def in_thread(target: object) -> threading.Thread:
    thread = threading.Thread(target=target, daemon=True)  # type: ignore[arg-type]
    thread.start()
    return thread


def test_shared_holders_are_inside_together() -> None:
    gate = GpuGate()
    both_inside = threading.Barrier(2, timeout=10)

    def check() -> None:
        with gate.shared():
            both_inside.wait()  # breaks (and the test fails) if the second cannot enter while the first is in

    threads = [in_thread(check), in_thread(check)]
    for thread in threads:
        thread.join(15)
    assert not both_inside.broken


def test_exclusive_waits_for_checks_and_holds_off_new_ones() -> None:
    gate = GpuGate()
    events: list[str] = []
    checking = threading.Event()
    leave_check = threading.Event()

    def first_check() -> None:
        with gate.shared():
            events.append("check 1 in")
            checking.set()
            leave_check.wait(10)
            events.append("check 1 out")

    def timed() -> None:
        with gate.exclusive():
            events.append("timing in")
            time.sleep(0.2)
            events.append("timing out")

    def second_check() -> None:
        with gate.shared():
            events.append("check 2 in")

    threads = [in_thread(first_check)]
    checking.wait(10)
    threads.append(in_thread(timed))
    time.sleep(0.2)  # the timing now waits for check 1
    threads.append(in_thread(second_check))
    time.sleep(0.2)  # check 2 arrived after the timing asked: it waits for the timing
    assert events == ["check 1 in"]
    leave_check.set()
    for thread in threads:
        thread.join(10)
    assert events == ["check 1 in", "check 1 out", "timing in", "timing out", "check 2 in"]


def test_a_cancelled_wait_raises_and_leaves_the_gate_usable() -> None:
    gate = GpuGate()
    cancel = threading.Event()
    with gate.shared():
        timer = threading.Timer(0.2, cancel.set)
        timer.start()
        with pytest.raises(ChannelAborted), gate.exclusive(cancel.is_set):
            pass
    with gate.shared():  # no writer is left counted as waiting
        pass
    with gate.exclusive():
        pass


def test_the_exclusive_holder_passes_its_own_gates() -> None:
    gate = GpuGate()
    with gate.exclusive(), gate.shared(), gate.exclusive():
        pass
    with gate.shared():
        pass


def test_waiting_is_counted() -> None:
    gate = GpuGate()
    release, held = threading.Event(), threading.Event()

    def hold() -> None:
        with gate.exclusive():
            held.set()
            release.wait(10)

    holder = in_thread(hold)
    held.wait(10)
    threading.Timer(0.3, release.set).start()
    with gate.shared():
        pass
    holder.join(10)
    assert gate.waited_s >= 0.2
