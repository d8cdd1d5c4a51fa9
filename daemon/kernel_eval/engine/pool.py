"""WorkerPool: the engine's entry point for the CLI, the daemon and batches.

It owns a judge worker (reference side, trusted) and a candidate worker (custom side, disposable) plus hot spare
candidates, and hands each request to an Evaluation (evaluation.py). It imports no torch itself.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator, Sequence

import attrs

from kernel_eval.engine.evaluation import Evaluation, Workers
from kernel_eval.engine.processes import WorkerProcess
from kernel_eval.progress import ProgressCallback, ignore_progress
from kernel_eval.request import DEFAULT_DEVICE, EvalRequest
from kernel_eval.result import EvalResult, Message, SandboxMode

__all__ = ["DEFAULT_DEVICE", "Placement", "WorkerPool"]


@attrs.frozen
class Placement:
    """What a pool's workers are started for: a request that differs gets new workers."""

    device: str = DEFAULT_DEVICE
    sandbox: SandboxMode = SandboxMode.AUTO
    build_dir_prefix: str = ""

    @classmethod
    def of(cls, request: EvalRequest) -> Placement:
        return cls(request.device or DEFAULT_DEVICE, request.sandbox, request.build_dir_prefix)


class WorkerPool:
    """Warm judge + candidate worker processes (+ `spares` hot spare candidates, warming up in the background).

    A candidate serves one custom file: re-evaluating that file (edited or not) reuses it, warm; another file gets
    a spare, a process no user code has run in. Whatever a user's file leaves in its process (torch patched, a
    global flag set, per-thread state left by its kernels) cannot then change the verdict on another file.

    evaluate() blocks. One evaluation runs at a time (a second, concurrent call is a programming error and
    raises). Call it from a thread in asyncio code. Setting `cancel` stops the evaluation: the worker it waits on
    is killed (a worker with an unanswered request is never reused) and a spare takes over. An editor keeps two
    spares (another file, then a crash in it). A batch, a new file each time, keeps several warming.
    """

    def __init__(self, *, spares: int = 1) -> None:
        self.spares = spares
        self._busy = threading.Lock()
        self._place: Placement | None = None
        self._judge: WorkerProcess | None = None
        self._candidate: WorkerProcess | None = None
        self._spares: list[WorkerProcess] = []
        """Oldest first: the first is the likeliest to be ready."""
        shm = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
        self._payload_dir = tempfile.mkdtemp(prefix="kernel-eval-payload-", dir=shm)  # mode 0700

    @property
    def worker_pids(self) -> list[int]:
        return [w.pid for w in (self._judge, self._candidate, *self._spares) if w is not None and w.alive]

    def warm_up(self, device: str = "", sandbox: SandboxMode = SandboxMode.AUTO) -> None:
        """Start the worker processes for `device` in the background (returns at once)."""
        with self._exclusive():
            self._ensure_workers(Placement(device or DEFAULT_DEVICE, sandbox))

    def evaluate(
        self,
        request: EvalRequest,
        on_progress: ProgressCallback = ignore_progress,
        cancel: threading.Event | None = None,
        notes: Sequence[Message] = (),
        time_limit_s: float = 0.0,
    ) -> EvalResult:
        """The result of `request`. `notes` are added to it (what the caller knows of the build, say). Past
        `time_limit_s` of wall clock (0: no limit) it is stopped and says so."""
        evaluation = Evaluation.of(request, on_progress, cancel or threading.Event(), notes, time_limit_s)
        if isinstance(evaluation, EvalResult):
            return evaluation
        with self._exclusive():
            place = Placement.of(request)
            self._ensure_workers(place)
            self._dedicate_candidate(evaluation.request.custom_src)
            assert self._judge is not None and self._candidate is not None
            try:
                return evaluation.run(Workers(self._judge, self._candidate))
            finally:
                self._retire(evaluation)
                self._ensure_workers(place)  # a spare takes over now, and a new one starts warming up

    def keep_spares(self, spares: int) -> None:
        """Keep `spares` hot spares from now on; missing ones start warming now, for the last request's device. (A
        pool started with none leaves the cores to its first evaluation's workers.)"""
        with self._exclusive():
            self.spares = spares
            if self._place is not None:
                self._ensure_workers(self._place)

    def replace_candidate(self) -> None:
        """Retire the candidate now: a spare takes over (a fresh process: nothing imported, builds as cached)."""
        with self._exclusive():
            if self._candidate is not None:
                self._candidate.close()
                self._candidate = None
            self._ensure_workers(self._place or Placement())

    def close(self) -> None:
        """Stop all workers and remove their payloads."""
        self._stop_workers()
        shutil.rmtree(self._payload_dir, ignore_errors=True)

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def _exclusive(self) -> Iterator[None]:
        if not self._busy.acquire(blocking=False):
            raise RuntimeError("WorkerPool runs one evaluation at a time; use one pool per concurrent caller")
        try:
            yield
        finally:
            self._busy.release()

    def _stop_workers(self) -> None:
        workers = [w for w in (self._judge, self._candidate, *self._spares) if w is not None]
        for worker in workers:  # all at once: each exit tears down a CUDA context, which takes a while
            worker.signal_kill()
        for worker in workers:
            worker.close()
        self._judge = self._candidate = None
        self._spares = []

    def _ensure_workers(self, place: Placement) -> None:
        if place != self._place:
            self._stop_workers()
            self._place = place
        if self._judge is None or not self._judge.alive:
            self._judge = self._start("judge")
        for dead in [w for w in self._spares if not w.alive]:
            dead.close()
            self._spares.remove(dead)
        if self._candidate is None or not self._candidate.alive:
            self._candidate = self._spares.pop(0) if self._spares else self._start("candidate")
        while len(self._spares) < self.spares:
            self._spares.append(self._start("candidate"))

    def _start(self, role: str) -> WorkerProcess:
        place = self._place or Placement()
        return WorkerProcess(role, place.device, self._payload_dir, place.sandbox, place.build_dir_prefix)

    def _dedicate_candidate(self, custom_src: str) -> None:
        """The candidate for `custom_src`: the current one if it serves that file or none yet, else a spare.

        User code can leave state in its process that outlives its evaluation (a patched torch function, a global
        flag, thread settings), so a candidate never runs a second file. (A first torch.erf at half float32
        precision, once blamed on such state, was torch's first vectorized call on a fresh thread: see
        worker/runtime.warm_cpu_math.)
        """
        if self._candidate is not None and self._candidate.user_file not in ("", custom_src):
            self._candidate.close()
            self._candidate = None
            self._ensure_workers(self._place or Placement())
        assert self._candidate is not None
        self._candidate.user_file = custom_src

    def _retire(self, evaluation: Evaluation) -> None:
        """Dead workers (killed with a request unanswered, or crashed) and tainted ones are replaced."""
        if self._candidate is not None and (evaluation.candidate_tainted or not self._candidate.alive):
            self._candidate.close()
            self._candidate = None
        if self._judge is not None and (evaluation.judge_tainted or not self._judge.alive):
            self._judge.close()
            self._judge = None
