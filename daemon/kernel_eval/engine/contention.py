"""How much of a worker's time its threads spent waiting for a CPU while runnable (Linux schedstat).

A timed round whose threads waited for a CPU a material share of the time ran on a machine busy with other work:
its times say more about that work than about the kernel, and no comparison of them with other rounds holds.
"""

from __future__ import annotations

import os

import attrs


@attrs.frozen
class CpuTimes:
    """Nanoseconds a process's threads ran on a CPU, and waited for one while runnable."""

    ran_ns: int = 0
    waited_ns: int = 0

    def waited_share_since(self, before: CpuTimes) -> float:
        """The share of the time between `before` and now that the threads waited (0 when nothing is known)."""
        ran, waited = self.ran_ns - before.ran_ns, self.waited_ns - before.waited_ns
        return waited / (ran + waited) if ran > 0 and waited > 0 else 0.0


def of_process(pid: int) -> CpuTimes:
    """Summed over the process's threads; zeros where /proc does not tell (not Linux, no schedstat)."""
    ran = waited = 0
    try:
        threads = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return CpuTimes()
    for thread in threads:
        try:
            with open(f"/proc/{pid}/task/{thread}/schedstat") as stat:
                fields = stat.read().split()
        except OSError:
            continue  # a thread that ended meanwhile
        if len(fields) >= 2:
            ran, waited = ran + int(fields[0]), waited + int(fields[1])
    return CpuTimes(ran, waited)
