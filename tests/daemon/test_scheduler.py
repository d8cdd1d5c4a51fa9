"""Scheduler semantics (debounce, supersede, cancel, one at a time) with an evaluation that just waits."""

from __future__ import annotations

import asyncio

import pytest

from kernel_eval.lsp.scheduler import Job, Scheduler
from kernel_eval.result import EvalResult, Phase, SourceInfo, Verdict


class FakeEngine:
    """Stands in for the worker pool: each evaluation takes `duration` unless its cancel event is set."""

    def __init__(self, duration: float = 0.3) -> None:
        self.duration = duration
        self.started: list[str] = []
        self.finished: list[str] = []
        self.running = 0
        self.most_at_once = 0

    async def evaluate(self, job: Job) -> EvalResult | None:
        self.started.append(job.uri)
        self.running += 1
        self.most_at_once = max(self.most_at_once, self.running)
        try:
            await asyncio.to_thread(job.cancel.wait, self.duration)
        finally:
            self.running -= 1
        if job.cancel.is_set():
            return None
        self.finished.append(job.uri)
        source = SourceInfo(job.uri, "ModelNew")
        return EvalResult(Verdict.CORRECT, Phase.DONE, source, source, "cpu")


@pytest.fixture
def engine() -> FakeEngine:
    return FakeEngine()


async def test_a_save_storm_costs_one_evaluation(engine: FakeEngine):
    scheduler = Scheduler(engine.evaluate, debounce_s=0.2)
    for _ in range(10):
        scheduler.save("a")
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.25)
    assert engine.started == ["a"]
    await scheduler.close()


async def test_a_save_supersedes_the_running_evaluation_and_waiters_get_the_new_result(engine: FakeEngine):
    scheduler = Scheduler(engine.evaluate, debounce_s=0.05)
    waiter = asyncio.ensure_future(scheduler.run("a"))
    await asyncio.sleep(0.1)
    scheduler.save("a")

    result = await asyncio.wait_for(waiter, 5)

    assert result is not None and result.verdict is Verdict.CORRECT
    assert engine.started == ["a", "a"] and engine.finished == ["a"]


async def test_cancelling_the_waiter_stops_the_evaluation(engine: FakeEngine):
    engine.duration = 30
    scheduler = Scheduler(engine.evaluate)
    waiter = asyncio.ensure_future(scheduler.run("a"))
    await asyncio.sleep(0.1)

    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    await asyncio.wait_for(scheduler.close(), 5)

    assert engine.finished == []


async def test_one_evaluation_at_a_time_and_cancelled_queued_jobs_never_start(engine: FakeEngine):
    scheduler = Scheduler(engine.evaluate)
    first = asyncio.ensure_future(scheduler.run("a"))
    second = asyncio.ensure_future(scheduler.run("b"))
    third = asyncio.ensure_future(scheduler.run("c"))
    await asyncio.sleep(0.05)
    scheduler.cancel("b")

    results = await asyncio.gather(first, second, third)

    assert engine.most_at_once == 1
    assert engine.started == ["a", "c"]
    assert [r is not None for r in results] == [True, False, True]


async def test_errors_reach_the_waiter():
    async def broken(job: Job) -> EvalResult | None:
        raise RuntimeError("engine bug")

    scheduler = Scheduler(broken)
    with pytest.raises(RuntimeError, match="engine bug"):
        await scheduler.run("a")
    scheduler.save("a")  # a save's failure is logged, not raised
    await asyncio.sleep(scheduler.debounce_s + 0.1)
    await scheduler.close()
