"""The Python API: evaluate kernels from a program (a reward function, a generation pipeline) on warm lanes.

    from kernel_eval import Session

    with Session() as session:                      # one warm lane per local GPU (the CPU without one)
        result = session.evaluate(ref_text, custom_text, measure_performance=True)
        futures = [session.submit(ref, custom) for custom in candidates]   # every lane kept busy

`evaluate` blocks, `submit` returns a `concurrent.futures.Future`, `evaluate_async` is awaitable. Sources are paths
or source text. Options are the fields of `EvalRequest` (`measure_performance`, `num_correct_trials`, `atol`, …).
`Session(address="auto")` puts the lanes on a Ray cluster (one per GPU), also from inside a running one.
"""

from __future__ import annotations

import asyncio
import atexit
import queue
import threading
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import attrs

from kernel_eval.batch.lanes import Lane, LocalLane, build_cores, failed, local_gpus
from kernel_eval.engine import builds, spawn
from kernel_eval.kinds import MessageKind
from kernel_eval.request import EvalRequest
from kernel_eval.result import EvalResult
from kernel_eval.sources import Source, as_file

OPTIONS = frozenset(field.name for field in attrs.fields(EvalRequest)) - {"ref_src", "custom_src"}
"""What `evaluate` and `submit` take as keyword options: the request's fields."""


@attrs.define
class _Job:
    request: EvalRequest
    future: Future[EvalResult]


class Session:
    """Warm lanes, each a judge and candidates on one device, that evaluate pairs as they are submitted."""

    def __init__(
        self,
        devices: Sequence[str] | None = None,
        *,
        address: str | None = None,
        time_limit_s: float = 0.0,
        **defaults: Any,
    ) -> None:
        """`devices`: cuda:N or cpu (default: every local GPU, else the CPU). `address`: a Ray cluster's address
        ("auto": the running one, or a new local one) instead of local devices. `time_limit_s`: the wall clock one
        evaluation may take in all (0: none). `defaults`: options every evaluation gets unless it says otherwise."""
        _check_options(defaults)
        self.defaults = defaults
        self.time_limit_s = time_limit_s
        spawn.harden_parent()
        self.lanes = _ray_lanes(address) if address else _local_lanes(devices)
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._closed = False
        # C++/CUDA files build on the CPU cores (as a batch's do) while the lanes evaluate what is ready
        gpus = [
            lane.device
            for lane in self.lanes
            if isinstance(lane, LocalLane) and lane.device.startswith("cuda")
        ]
        self._on_gpu = bool(gpus)
        self._builders = (
            ThreadPoolExecutor(build_cores(len(self.lanes)), thread_name_prefix="kernel-eval-build")
            if not address
            else None
        )
        self._arch = self._builders.submit(builds.gpu_arch, gpus[0]) if gpus and self._builders else None
        self._threads = [
            threading.Thread(target=self._serve, args=(lane,), name=f"kernel-eval-{lane.name}", daemon=True)
            for lane in self.lanes
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, ref_src: Source, custom_src: Source, **options: Any) -> Future[EvalResult]:
        """Queue one evaluation; the first free lane takes it. Its future holds the result, never an exception
        for anything the user's code does."""
        if self._closed:
            raise RuntimeError("this kernel-eval Session is closed")
        _check_options(options)
        ref, custom = (
            as_file(ref_src, "reference", "reference.py"),
            as_file(custom_src, "custom", "custom.py"),
        )
        request = EvalRequest(ref_src=ref, custom_src=custom, **{**self.defaults, **options})
        job = _Job(request, Future())
        if self._builders is not None and builds.needs_prebuild(request.custom_src, self._on_gpu):
            build = self._builders.submit(self._prebuild, request)
            build.add_done_callback(lambda _: self._enqueue(job))  # the lanes take what is built first
        else:
            self._jobs.put(job)
        return job.future

    def evaluate(self, ref_src: Source, custom_src: Source, **options: Any) -> EvalResult:
        """Evaluate one pair and wait for its result."""
        return self.submit(ref_src, custom_src, **options).result()

    async def evaluate_async(self, ref_src: Source, custom_src: Source, **options: Any) -> EvalResult:
        """Evaluate one pair without blocking the event loop: gather many to keep every lane busy."""
        return await asyncio.wrap_future(self.submit(ref_src, custom_src, **options))

    def close(self) -> None:
        """Stop the lanes and their workers; evaluations not yet started are cancelled."""
        if self._closed:
            return
        self._closed = True
        if self._builders is not None:
            self._builders.shutdown(wait=True, cancel_futures=True)
        for _ in self._threads:
            self._jobs.put(None)
        for thread in self._threads:
            thread.join()
        while not self._jobs.empty():
            job = self._jobs.get_nowait()
            if job is not None:
                job.future.cancel()
        for lane in self.lanes:
            lane.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _enqueue(self, job: _Job) -> None:
        if self._closed:
            job.future.cancel()
        else:
            self._jobs.put(job)

    def _prebuild(self, request: EvalRequest) -> None:
        """A failed build is the evaluation's to report: the lane builds again and says what went wrong."""
        arch = self._arch.result() if self._arch is not None else "cpu"
        builds.prebuild(request, request.build_timeout_s, arch)

    def _serve(self, lane: Lane) -> None:
        while (job := self._jobs.get()) is not None:
            if not job.future.set_running_or_notify_cancel():
                continue
            try:
                result = lane.evaluate(job.request, self.time_limit_s).result
            except Exception as exc:  # a lane failure costs this evaluation, never the session
                result = failed(job.request, MessageKind.BATCH_ERROR, f"the lane failed: {exc!r}")
            job.future.set_result(result)


def _check_options(options: dict[str, Any]) -> None:
    unknown = sorted(set(options) - OPTIONS)
    if unknown:
        raise TypeError(
            f"unknown kernel-eval option(s) {', '.join(unknown)}; known: {', '.join(sorted(OPTIONS))}"
        )


def _local_lanes(devices: Sequence[str] | None) -> list[Lane]:
    chosen = list(devices) if devices else local_gpus("") or ["cpu"]
    lanes: list[Lane] = []
    for index, device in enumerate(chosen):
        lane = LocalLane(device, f"{device}#{index}", len(chosen))
        lane.warm_up()
        lanes.append(lane)
    return lanes


def _ray_lanes(address: str) -> list[Lane]:
    from kernel_eval.batch import ray_lanes

    return list(ray_lanes.start(address, cpu_lanes=1).lanes)


_default: Session | None = None
_default_lock = threading.Lock()


def evaluate(ref_src: Source, custom_src: Source, **options: Any) -> EvalResult:
    """Evaluate one pair on this process's default session (started on first use, closed at exit)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Session()
            atexit.register(_default.close)
        session = _default
    return session.evaluate(ref_src, custom_src, **options)
