"""How much of a worker's time its threads spent waiting for a CPU that other work held (Linux schedstat).

A timed round whose threads waited for a CPU a material share of the time, while other work held a material share of
the machine, ran on a machine busy with that work: its times say more about it than about the kernel, and no
comparison of them with other rounds holds. Threads of the module waiting for each other (more of them than cores,
an OpenMP pool spinning while Python runs) are its own cost, not a busy machine: with no other work they count for
nothing.
"""

from __future__ import annotations

import os
import time

import attrs

OTHERS_LIMIT = 0.1
"""Other processes running this share of all the machine's CPU time (a quiet machine: under 5 %, mostly under
1 %) can be what the timed threads waited for."""


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


@attrs.frozen
class Reading:
    """A process's CPU times, the nanoseconds other processes ran on a CPU, and when (monotonic ns)."""

    process: CpuTimes
    others_ran_ns: int = 0
    at_ns: int = 0

    def taken_share_since(self, before: Reading) -> float:
        """The share of its time the process's threads waited for a CPU since `before`, when other processes held
        more than OTHERS_LIMIT of all the machine's CPUs meanwhile; else 0 (nothing else ran: they waited for each
        other)."""
        capacity = (self.at_ns - before.at_ns) * (os.cpu_count() or 1)
        if capacity <= 0 or self.others_ran_ns - before.others_ran_ns <= OTHERS_LIMIT * capacity:
            return 0.0
        return self.process.waited_share_since(before.process)


def read(pid: int) -> Reading:
    """The process's CPU times and those of every other visible process but this one, whose work (this scan, a few
    milliseconds) is the timing's own."""
    others, ours = 0, {pid, os.getpid()}
    for name in os.listdir("/proc"):
        if name.isdigit() and int(name) not in ours:
            others += of_process(int(name)).ran_ns
    return Reading(of_process(pid), others, time.monotonic_ns())
