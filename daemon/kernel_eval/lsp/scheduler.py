"""When evaluations run: debounced saves, superseding, cancellation, one evaluation at a time.

- A save starts a debounce timer (restarted by every further save of that file). When it fires, the file
  is evaluated. A save while the file is being evaluated stops that evaluation at once (its kernel is
  killed) and the evaluation starts over when the timer fires: ten saves within a second cost one
  evaluation, of the last content.
- An explicit run starts at once (superseding a running evaluation of the same file).
- A superseded job's waiters get the result of the job that replaced it.
- The worker pool runs one evaluation at a time. Jobs wait on a lock, in order, and a job cancelled
  while it waits never reaches the pool.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable

import attrs

from kernel_eval.lsp.methods import RunParams
from kernel_eval.references import ReferenceMatch
from kernel_eval.result import EvalResult

log = logging.getLogger(__name__)

DEFAULT_DEBOUNCE_S = 0.2


@attrs.define(eq=False)
class Job:
    uri: str
    options: RunParams | None = None
    """What the requester asked for (kernelEval/run params), None for saves."""
    reference: ReferenceMatch | None = None
    """Resolved once per job, when queued (None: resolve when it runs)."""
    cancel: threading.Event = attrs.field(factory=threading.Event)
    superseded: bool = False
    done: asyncio.Future[EvalResult | None] = attrs.field(
        factory=lambda: asyncio.get_running_loop().create_future()
    )

    def stop(self) -> None:
        """Cancel: a queued job never starts, and a running one has its kernel killed."""
        self.cancel.set()


Evaluate = Callable[[Job], Awaitable[EvalResult | None]]


class Scheduler:
    def __init__(self, evaluate: Evaluate, debounce_s: float = DEFAULT_DEBOUNCE_S) -> None:
        self._evaluate = evaluate
        self.debounce_s = debounce_s
        self._pool_lock = asyncio.Lock()
        self._latest: dict[str, Job] = {}
        """The newest job of each uri not yet finished."""
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._orphans: dict[str, list[Job]] = {}
        """Superseded jobs waiting for their successor to start."""
        self._tasks: set[asyncio.Task[None]] = set()

    def is_busy(self, uri: str) -> bool:
        return uri in self._latest or uri in self._timers

    def save(self, uri: str, reference: ReferenceMatch | None = None) -> None:
        """A save of `uri`: stop its evaluation now, evaluate again after the debounce delay."""
        self._supersede(uri)
        timer = self._timers.pop(uri, None)
        if timer is not None:
            timer.cancel()
        self._timers[uri] = asyncio.get_running_loop().call_later(
            self.debounce_s, self._start, uri, None, reference
        )

    async def run(
        self, uri: str, options: RunParams | None = None, reference: ReferenceMatch | None = None
    ) -> EvalResult | None:
        """Evaluate now and wait for the result (None when cancelled without a successor).

        Cancelling the awaiting task stops the job (and kills its kernel).
        """
        job = self._start(uri, options, reference)
        try:
            return await asyncio.shield(job.done)
        except asyncio.CancelledError:
            job.stop()
            raise

    def cancel(self, uri: str) -> bool:
        timer = self._timers.pop(uri, None)
        if timer is not None:
            timer.cancel()
        job = self._latest.get(uri)
        if job is not None:
            job.stop()
        for orphan in self._orphans.pop(uri, []):
            _resolve(orphan.done, None)
        return job is not None or timer is not None

    async def close(self) -> None:
        for uri in list(self._latest) + list(self._timers) + list(self._orphans):
            self.cancel(uri)
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def _supersede(self, uri: str) -> None:
        job = self._latest.get(uri)
        if job is not None and not job.superseded:
            job.superseded = True
            job.stop()
            self._orphans.setdefault(uri, []).append(job)

    def _start(self, uri: str, options: RunParams | None, reference: ReferenceMatch | None = None) -> Job:
        timer = self._timers.pop(uri, None)
        if timer is not None:
            timer.cancel()
        self._supersede(uri)
        job = Job(uri=uri, options=options, reference=reference)
        for orphan in self._orphans.pop(uri, []):
            _chain(job.done, orphan.done)
        self._latest[uri] = job
        task = asyncio.create_task(self._run(job))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return job

    async def _run(self, job: Job) -> None:
        try:
            async with self._pool_lock:
                result = None if job.cancel.is_set() else await self._evaluate(job)
        except Exception as exc:
            log.exception("evaluation of %s failed", job.uri)
            if not job.superseded and not job.done.done():
                job.done.set_exception(exc)
                job.done.exception()  # a save has no waiter: mark the exception retrieved
            return
        finally:
            if self._latest.get(job.uri) is job:
                del self._latest[job.uri]
        if not job.superseded:
            _resolve(job.done, result)


def _chain(source: asyncio.Future[EvalResult | None], target: asyncio.Future[EvalResult | None]) -> None:
    def copy(done: asyncio.Future[EvalResult | None]) -> None:
        if target.done():
            return
        if done.cancelled():
            target.cancel()
        elif done.exception() is not None:
            target.set_exception(done.exception())  # type: ignore[arg-type]
            target.exception()
        else:
            target.set_result(done.result())

    source.add_done_callback(copy)


def _resolve(future: asyncio.Future[EvalResult | None], value: EvalResult | None) -> None:
    if not future.done():
        future.set_result(value)
