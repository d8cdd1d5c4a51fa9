"""The batch runner: lanes pull pairs whose build is ready while build-only loads fill the cache on every core.

Each lane is a thread driving one device (a local WorkerPool, or a Ray actor holding one). Pairs that build at
import (C++/CUDA load_inline) are first built by a pool of build-only processes, one per core. A lane takes the first
pair whose build is done (plain PyTorch and Triton pairs are ready at once), so GPUs time kernels while the CPUs
compile the next ones. Results are written and flushed as each pair finishes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor

import attrs

from kernel_eval import history
from kernel_eval.batch.lanes import Lane, LaneResult, failed
from kernel_eval.batch.output import ResultWriter
from kernel_eval.batch.spec import Pair
from kernel_eval.kinds import MessageKind

Prebuild = Callable[[Pair], "float | None"]  # build-only load of one pair: seconds, or None when it failed


@attrs.define
class Outcome:
    """A finished pair: its result plus where and how long (also written to the JSONL under "batch")."""

    name: str
    done: LaneResult
    lane: str
    prebuild_s: float | None = None
    at_s: float = 0.0
    """When it finished, in seconds since the batch started."""

    @property
    def build_s(self) -> float:
        return (self.prebuild_s or 0.0) + self.done.build_s

    def extra(self) -> dict[str, object]:
        return {
            "lane": self.lane,
            "build_s": round(self.build_s, 3),
            "prebuild_s": self.prebuild_s,
            "wall_s": self.done.wall_s,
            "at_s": self.at_s,
        }


class Runner:
    def __init__(
        self,
        lanes: Sequence[Lane],
        writer: ResultWriter,
        *,
        prebuild: Prebuild | None = None,
        needs_prebuild: Callable[[Pair], bool] = lambda pair: False,
        build_jobs: int = 1,
        pair_timeout_s: float = 0.0,
        on_done: Callable[[Outcome], None] = lambda outcome: None,
        record_history: bool = True,
        home: Callable[[Pair], str] | None = None,
    ) -> None:
        self.lanes = lanes
        self.writer = writer
        self.prebuild = prebuild
        self.needs_prebuild = needs_prebuild
        self.build_jobs = max(1, build_jobs)
        self.pair_timeout_s = pair_timeout_s
        self.on_done = on_done
        self.record_history = record_history
        # The node a pair was built on ("" = anywhere): its cache hit is there.
        self.home = home or self.anywhere
        self._ready = threading.Condition()
        self._pending: list[Pair] = []
        self._builds: dict[str, Future[float | None]] = {}
        self.outcomes: list[Outcome] = []
        self._started = time.monotonic()
        self.stopping = False

    def run(self, pairs: Sequence[Pair]) -> list[Outcome]:
        self._pending = list(pairs)
        self._started = time.monotonic()
        with ThreadPoolExecutor(self.build_jobs, thread_name_prefix="kernel-eval-build") as builders:
            if self.prebuild is not None:
                for pair in pairs:
                    if self.needs_prebuild(pair):
                        future = builders.submit(self.prebuild, pair)
                        future.add_done_callback(lambda _: self._notify())
                        self._builds[pair.name] = future
            threads = [
                threading.Thread(target=self._lane_loop, args=(lane,), name=f"kernel-eval-lane-{lane.name}")
                for lane in self.lanes
            ]
            for thread in threads:
                thread.start()
            try:
                for thread in threads:
                    while thread.is_alive():
                        thread.join(0.5)  # in steps, so Ctrl-C reaches this thread
            except BaseException:
                # Lanes take no more pairs, and what an interrupted pair "found" is not written.
                self.stopping = True
                for future in self._builds.values():
                    future.cancel()
                raise
        return self.outcomes

    @staticmethod
    def anywhere(pair: Pair) -> str:
        """A pair's home when builds are local: any lane may take it."""
        return ""

    def _notify(self) -> None:
        with self._ready:
            self._ready.notify_all()

    def _next(self, lane: Lane) -> Pair | None:
        """The first pending pair whose build is done, preferring one built on the lane's node (waiting for one),
        or None when none is left."""
        with self._ready:
            while self._pending and not self.stopping:
                ready = [i for i, pair in enumerate(self._pending) if self._built(pair)]
                if ready:
                    here = [i for i in ready if self.home(self._pending[i]) in ("", lane.node)]
                    return self._pending.pop((here or ready)[0])
                self._ready.wait(timeout=1.0)
            return None

    def _built(self, pair: Pair) -> bool:
        build = self._builds.get(pair.name)
        return build is None or build.done()

    def _lane_loop(self, lane: Lane) -> None:
        while (pair := self._next(lane)) is not None:
            build = self._builds.get(pair.name)
            prebuild_s = build.result() if build is not None and build.exception() is None else None
            try:
                done = lane.evaluate(pair.request, self.pair_timeout_s)
            except Exception as exc:  # a lane failure costs this pair, never the batch
                done = LaneResult(
                    failed(pair.request, MessageKind.BATCH_ERROR, f"the lane failed: {exc!r}"), 0.0, 0.0
                )
            if self.stopping:
                return
            outcome = Outcome(
                pair.name, done, lane.name, prebuild_s, round(time.monotonic() - self._started, 3)
            )
            try:
                self.writer.write(pair.name, done.result, outcome.extra())
            except ValueError as exc:  # e.g. a value JSON cannot hold: the pair still gets its line
                outcome.done.result = failed(
                    pair.request, MessageKind.BATCH_ERROR, f"the result could not be written: {exc}"
                )
                self.writer.write(pair.name, outcome.done.result, outcome.extra())
            if self.record_history:
                history.record(done.result, "batch")
            with self._ready:
                self.outcomes.append(outcome)
            self.on_done(outcome)
