"""GpuGate: several evaluations share one GPU for loading and checking, and each is timed with the GPU to itself.

Checks of different pairs may run side by side (their results do not depend on the GPU being idle, and a Triton
compile on a first forward keeps the GPU idle anyway); timed rounds may not. `shared()` is held around the work of
an evaluation that may use the GPU, `exclusive()` around its timed rounds: a writer-preferring readers–writer lock,
so a pair waiting to be timed holds off new checks instead of waiting behind a stream of them. The thread holding
the gate exclusively passes through its own `shared()` and `exclusive()` (a pair re-run alone after running out of
memory beside others holds it for the whole evaluation).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator

from kernel_eval.protocol.channel import ChannelAborted

POLL_S = 0.05  # how often a waiter looks at its abort check


def never() -> bool:
    return False


class GpuGate:
    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._sharing = 0  # evaluations holding it shared
        self._owner: int | None = None  # the thread holding it exclusively
        self._writers_waiting = 0
        self.waited_s = 0.0  # seconds spent waiting, by all callers (for reports)

    @contextlib.contextmanager
    def shared(self, should_abort: Callable[[], bool] = never) -> Iterator[None]:
        if self._owner == threading.get_ident():
            yield
            return
        with self._lock:
            self._wait(lambda: self._owner is None and not self._writers_waiting, should_abort)
            self._sharing += 1
        try:
            yield
        finally:
            with self._lock:
                self._sharing -= 1
                self._lock.notify_all()

    @contextlib.contextmanager
    def exclusive(self, should_abort: Callable[[], bool] = never) -> Iterator[None]:
        if self._owner == threading.get_ident():
            yield
            return
        with self._lock:
            self._writers_waiting += 1
            try:
                self._wait(lambda: self._owner is None and not self._sharing, should_abort)
            finally:
                self._writers_waiting -= 1
                self._lock.notify_all()
            self._owner = threading.get_ident()
        try:
            yield
        finally:
            with self._lock:
                self._owner = None
                self._lock.notify_all()

    def _wait(self, free: Callable[[], bool], should_abort: Callable[[], bool]) -> None:
        """With the lock held: wait until `free()`, or raise ChannelAborted when `should_abort()`."""
        started = time.monotonic()
        while not free():
            if should_abort():
                raise ChannelAborted()
            self._lock.wait(POLL_S)
        self.waited_s += time.monotonic() - started
