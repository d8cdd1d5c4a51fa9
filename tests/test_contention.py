"""engine/contention.py: how long a process's threads waited for a CPU, read from Linux's schedstat."""

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
        before = contention.of_process(os.getpid())
        _spin(0.5)
        share = contention.of_process(os.getpid()).waited_share_since(before)

    assert share > fresh.WAIT_LIMIT


def test_a_process_that_is_gone_reads_as_nothing_known() -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()

    assert contention.of_process(gone.pid) == contention.CpuTimes()
    assert contention.CpuTimes(5, 0).waited_share_since(contention.CpuTimes()) == 0.0
