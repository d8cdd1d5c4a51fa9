"""Cancellation, superseding saves, save storms and worker crashes, through the real daemon."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from daemon_client import DATA, KernelEvalClient, started_marker, wait_until
from lsprotocol import types
from pygls.exceptions import JsonRpcRequestCancelled


def process_gone(pid: int) -> bool:
    """True once `pid` has exited (a zombie awaiting its parent's wait() counts as gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    return "State:\tZ" in status


async def started_slow_kernel(client: KernelEvalClient, slow: Path) -> int:
    pid_file = await wait_until(lambda: started_marker(slow), what="the slow kernel to start running")
    return int(await wait_until(pid_file.read_text, what="the pid"))


async def test_cancel_request_stops_the_running_kernel(client: KernelEvalClient):
    client.copy("model_add.py")
    slow = client.copy("model_new_add_slow.py")
    good = client.copy("model_new_add.py")

    run = asyncio.ensure_future(client.run(slow, msg_id="slow-run"))
    pid = await started_slow_kernel(client, slow)
    client.cancel_request(types.CancelParams(id="slow-run"))

    with pytest.raises(JsonRpcRequestCancelled):
        await asyncio.wait_for(run, 10)
    await wait_until(lambda: process_gone(pid), timeout=10, what=f"worker {pid} to be killed")
    await wait_until(
        lambda: any(n["phase"] == "cancelled" for n in client.evaluating_for(slow)),
        what="the cancelled phase",
    )
    assert not client.results_for(slow)  # a cancelled evaluation publishes nothing

    started = time.monotonic()
    result = await client.run(good)
    assert result["verdict"] == "correct"
    assert time.monotonic() - started < 10


async def test_progress_cancel_button_stops_the_kernel(client: KernelEvalClient):
    client.copy("model_add.py")
    slow = client.copy("model_new_add_slow.py")

    client.save(slow)
    pid = await started_slow_kernel(client, slow)
    [token] = list(client.progress_reports)
    client.window_work_done_progress_cancel(types.WorkDoneProgressCancelParams(token=token))

    await wait_until(lambda: process_gone(pid), timeout=10, what=f"worker {pid} to be killed")
    await wait_until(lambda: isinstance(client.progress_reports[token][-1], types.WorkDoneProgressEnd))
    [lens] = await client.code_lenses(slow)
    assert lens.command is not None and lens.command.title == "Evaluate kernel"


async def test_save_during_evaluation_supersedes_it(client: KernelEvalClient):
    client.copy("model_add.py")
    custom = client.copy("model_new_add_slow.py", "model_new_add.py")

    client.save(custom)
    pid = await started_slow_kernel(client, custom)
    client.save(custom, (DATA / "model_new_add.py").read_text())

    await wait_until(lambda: process_gone(pid), timeout=10, what=f"worker {pid} to be killed")
    [result] = await wait_until(lambda: client.results_for(custom), what="the result of the new content")
    assert result["verdict"] == "correct"


async def test_save_storm_costs_one_evaluation_of_the_last_content(client: KernelEvalClient):
    client.copy("model_add.py")
    custom = client.copy("model_new_add.py")
    await client.run(custom)  # warm
    runs_before = len(client.results_for(custom))
    starts_before = _starts(client, custom)
    wrong = (DATA / "model_new_add_wrong.py").read_text()
    right = (DATA / "model_new_add.py").read_text()

    for i in range(10):  # ten saves within a second; the last one leaves the wrong kernel
        client.save(custom, right if i % 2 else wrong)
        await asyncio.sleep(0.09)
    client.save(custom, wrong)

    await wait_until(lambda: client.results_for(custom)[runs_before:], what="the storm's result")
    await asyncio.sleep(1.0)  # nothing else may follow
    results = client.results_for(custom)[runs_before:]
    assert [r["verdict"] for r in results] == ["incorrect"]
    assert _starts(client, custom) - starts_before == 1


def _starts(client: KernelEvalClient, path: Path) -> int:
    return sum(1 for n in client.evaluating_for(path) if n["message"] == "starting")


async def test_worker_killed_mid_evaluation_then_the_spare_takes_over(client: KernelEvalClient):
    client.copy("model_add.py")
    good = client.copy("model_new_add.py")
    crash = client.copy("model_new_add_crash.py")
    cold_started = time.monotonic()
    await client.run(good)
    cold_s = time.monotonic() - cold_started
    await asyncio.sleep(2)  # let the spare finish starting (it warmed up alongside the first candidate)

    crashed = await client.run(crash)

    assert crashed["verdict"] == "error"
    [diagnostic] = [d for d in client.diagnostics_for(crash) if d.severity == types.DiagnosticSeverity.Error]
    assert "killed by SIGKILL" in diagnostic.message
    assert diagnostic.range.start.line == 7  # `def forward` (line 8): a dead process has no traceback

    warm_started = time.monotonic()
    recovered = await client.run(good)
    warm_s = time.monotonic() - warm_started
    assert recovered["verdict"] == "correct"
    assert warm_s < 2.0 and warm_s < cold_s / 2, f"spare took {warm_s:.2f} s (cold start {cold_s:.2f} s)"


@pytest.mark.parametrize("how", ["shutdown", "stdin closed"])
async def test_worker_processes_stop_with_the_daemon(client: KernelEvalClient, how: str):
    client.copy("model_add.py")
    slow = client.copy("model_new_add_slow.py")
    client.save(slow)
    pid = await started_slow_kernel(client, slow)

    if how == "shutdown":
        await client.shutdown_session()
    else:  # the editor died without saying goodbye
        assert client._server is not None and client._server.stdin is not None
        client._server.stdin.close()
        assert await asyncio.wait_for(client._server.wait(), 10) == 0

    await wait_until(lambda: process_gone(pid), timeout=10, what="the worker to stop")
