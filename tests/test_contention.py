"""engine/contention.py: how long a process's threads waited for a CPU other work held, read from Linux's schedstat
and /proc/stat."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from spinners import Spinners

from kernel_eval.engine import contention
from kernel_eval.stages.timing import fresh

pytestmark = pytest.mark.skipif(not os.path.exists("/proc/self/schedstat"), reason="needs Linux schedstat")


def _spin(seconds: float) -> None:
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        pass


def test_a_process_spinning_beside_more_spinners_than_cores_is_seen_waiting_past_the_limit() -> None:
    with Spinners() as spinners:
        spinners.start(2 * (os.cpu_count() or 1))
        time.sleep(0.2)
        before = contention.read(os.getpid())
        _spin(0.5)
        share = contention.read(os.getpid()).taken_share_since(before)

    assert share > fresh.WAIT_LIMIT


OVERSUBSCRIBED = """
import sys, time, torch
torch.set_num_threads(4 * int(sys.argv[1]))
a = torch.randn(768, 768)
a @ a
print("running", flush=True)
until = time.monotonic() + 30
while time.monotonic() < until:
    a @ a
"""


def test_threads_of_one_process_waiting_for_each_other_on_a_quiet_machine_are_not_other_work() -> None:
    """A module with more threads than cores makes them wait for each other: its own cost, not a busy machine."""
    cores = os.cpu_count() or 1
    child = subprocess.Popen(
        [sys.executable, "-c", OVERSUBSCRIBED, str(cores)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None and child.stdout.readline() == "running\n"
        time.sleep(0.2)
        before = contention.read(child.pid)
        time.sleep(0.5)
        after = contention.read(child.pid)
    finally:
        child.kill()
        child.wait()

    assert after.process.waited_share_since(before.process) > fresh.WAIT_LIMIT
    assert after.taken_share_since(before) == 0.0


def test_a_process_that_is_gone_reads_as_nothing_known() -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()

    assert contention.of_process(gone.pid) == contention.CpuTimes()
    assert contention.read(gone.pid).taken_share_since(contention.read(gone.pid)) == 0.0
    assert contention.CpuTimes(5, 0).waited_share_since(contention.CpuTimes()) == 0.0
