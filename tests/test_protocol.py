"""The worker protocol's invariant: a worker with an unanswered request is killed and replaced, never reused.

Every phase (load, build, check, time) is cancelled and timed out through the pool, and the next evaluation in
the same pool must be correct each time. Workers must also die with their parent, whatever ends it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from cases import CPU_DATA

from kernel_eval.engine.pool import WorkerPool
from kernel_eval.engine.processes import ProtocolError, WorkerProcess
from kernel_eval.progress import ProgressEvent
from kernel_eval.protocol import channel
from kernel_eval.protocol.judge import PrepareParams
from kernel_eval.request import EvalRequest
from kernel_eval.result import EvalResult, Phase, Verdict

REPO = Path(__file__).resolve().parents[1]
GOOD = (CPU_DATA / "model_add.py", CPU_DATA / "model_new_add.py")
# phase -> (reference, custom) whose evaluation hangs in that phase
HANGS_IN = {
    Phase.LOAD: (CPU_DATA / "model_slow_init.py", CPU_DATA / "model_new_add.py"),
    Phase.BUILD: (CPU_DATA / "model_add.py", CPU_DATA / "model_new_slow_build.py"),
    Phase.CHECK: (CPU_DATA / "model_add.py", CPU_DATA / "model_new_hang.py"),
    Phase.TIME: (CPU_DATA / "model_add.py", CPU_DATA / "model_new_slow_timing.py"),
}


def request(ref: Path, custom: Path, build_prefix: Path, **options: object) -> EvalRequest:
    return EvalRequest(
        ref_src=str(ref),
        custom_src=str(custom),
        device="cpu",
        measure_performance=True,
        build_dir_prefix=str(build_prefix),
        **options,  # type: ignore[arg-type]
    )


def cancel_once_in(
    phase: Phase, cancel: threading.Event, after_s: float = 1.0
) -> Callable[[ProgressEvent], None]:
    """A progress callback that cancels `after_s` after the evaluation reports `phase`."""

    def on_progress(event: ProgressEvent) -> None:
        if event.phase is phase and not cancel.is_set():
            threading.Timer(after_s, cancel.set).start()

    return on_progress


def assert_next_is_correct(pool: WorkerPool, build_prefix: Path) -> None:
    result = pool.evaluate(request(*GOOD, build_prefix))
    assert result.verdict is Verdict.CORRECT, result.headline


def only_error(result: EvalResult, verdict: Verdict = Verdict.ERROR) -> tuple[str, Phase]:
    assert result.verdict is verdict, result.headline
    [error] = result.errors
    return error.kind, error.phase


@pytest.mark.parametrize("phase", list(HANGS_IN), ids=lambda p: p.value)
def test_cancel_in_every_phase_kills_the_worker_and_the_next_evaluation_is_correct(
    pool: WorkerPool, build_prefix: Path, phase: Phase
) -> None:
    assert_next_is_correct(pool, build_prefix)
    before = set(pool.worker_pids)
    cancel = threading.Event()
    started = time.monotonic()
    result = pool.evaluate(
        request(*HANGS_IN[phase], build_prefix), on_progress=cancel_once_in(phase, cancel), cancel=cancel
    )
    assert time.monotonic() - started < 30
    assert only_error(result, Verdict.CANCELLED) == ("cancelled", phase)
    assert before - set(pool.worker_pids), "the worker that owed a reply is still in the pool"
    assert_next_is_correct(pool, build_prefix)


@pytest.mark.parametrize("phase", list(HANGS_IN), ids=lambda p: p.value)
def test_timeout_in_every_phase_kills_the_worker_and_the_next_evaluation_is_correct(
    pool: WorkerPool, build_prefix: Path, phase: Phase
) -> None:
    before = set(pool.worker_pids)
    result = pool.evaluate(request(*HANGS_IN[phase], build_prefix, timeout_s=4.0, build_timeout_s=4.0))
    kind, failed_in = only_error(result)
    assert (kind, failed_in) == ("timeout", phase)
    [error] = result.errors
    assert error.location is not None and error.location.line > 0  # the line it hung on
    assert before - set(pool.worker_pids)
    assert_next_is_correct(pool, build_prefix)


def test_an_exception_in_the_parent_kills_the_worker_it_was_waiting_on(build_prefix: Path) -> None:
    def explode(event: ProgressEvent) -> None:
        if event.message.startswith("build: "):  # a build output line, streamed while the candidate builds
            raise RuntimeError("the parent failed")

    with WorkerPool(spares=0) as pool:
        pool.warm_up("cpu")
        before = set(pool.worker_pids)
        with pytest.raises(RuntimeError, match="the parent failed"):
            pool.evaluate(request(*HANGS_IN[Phase.BUILD], build_prefix), on_progress=explode)
        assert before - set(pool.worker_pids)
        assert_next_is_correct(pool, build_prefix)


def test_a_reply_with_another_id_is_a_protocol_error_and_kills_the_worker(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    worker = WorkerProcess("judge", "cpu", str(tmp_path))
    try:
        worker.wait_ready(120)
        real_recv = channel.recv
        monkeypatch.setattr(channel, "recv", lambda *a, **k: {**real_recv(*a, **k), "id": 999})
        with pytest.raises(ProtocolError, match="999"):
            worker.request(PrepareParams(str(GOOD[0]), "Model", 42), timeout=60)
        assert not worker.alive
    finally:
        worker.close()


def test_a_dead_workers_payloads_and_arena_are_removed_and_no_others(tmp_path: Path) -> None:
    worker = WorkerProcess("candidate", "cpu", str(tmp_path))
    (tmp_path / "judge-1").mkdir()
    other = tmp_path / "judge-1" / f"inputs-{worker.pid + 100000}-0.pt"
    own = worker.payload_folder  # each worker writes in a folder of its own
    mine = [own / f"arena-{worker.pid}-tensors.bin", own / f"output-{worker.pid}-3.pt"]
    for path in [other, *mine]:
        path.write_bytes(b"x" * 1024)

    worker.kill()

    assert [path.exists() for path in mine] == [False, False]
    assert other.exists()


def cli_argv(ref: Path, custom: Path, build_prefix: Path) -> list[str]:
    script = str(REPO / "scripts" / "run_and_check.py")
    paths = ["--ref_src", str(ref), "--custom_src", str(custom), "--build_dir_prefix", str(build_prefix)]
    return [sys.executable, script, *paths, "--device", "cpu", "--no_server"]  # the workers of the CLI itself


def processes_with(token: str) -> list[int]:
    """Live processes whose environment carries `token` (the CLI's workers and what they started)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if token.encode() in (entry / "environ").read_bytes():
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
                if state != "Z":
                    found.append(int(entry.name))
        except OSError:
            continue
    return found


def wait_for(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


@pytest.mark.parametrize("how", ["SIGKILL", "SIGTERM", "SIGINT"])
def test_workers_and_their_builds_die_with_the_cli_within_two_seconds(how: str, tmp_path: Path) -> None:
    token = f"kernel-eval-test-{uuid.uuid4()}"
    env = {**os.environ, "KERNEL_EVAL_TEST_MARK": token}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO / "daemon"), env.get("PYTHONPATH", "")) if p)
    ref, custom = HANGS_IN[Phase.BUILD]
    cli = subprocess.Popen(
        cli_argv(ref, custom, tmp_path),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        # mid-build: the custom file's stand-in compiler (`sleep 61.5`) is running under the candidate
        assert wait_for(lambda: _build_running(token), 90), "the build never started"
        assert len(processes_with(token)) >= 3  # CLI, judge, candidate (and its child)
        cli.send_signal(getattr(signal, how))
        cli.wait(timeout=10)
        assert wait_for(lambda: processes_with(token) == [], 2.0), f"left behind: {processes_with(token)}"
    finally:
        cli.kill()
        for pid in processes_with(token):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize("phase", [Phase.LOAD, Phase.CHECK])
def test_after_sigkill_of_the_cli_its_workers_are_gone_within_two_seconds_every_time(
    phase: Phase, tmp_path: Path
) -> None:
    gone_after = []
    for _ in range(3):
        token = f"kernel-eval-test-{uuid.uuid4()}"
        env = {**os.environ, "KERNEL_EVAL_TEST_MARK": token}
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO / "daemon"), env.get("PYTHONPATH", "")) if p)
        cli = subprocess.Popen(
            cli_argv(*HANGS_IN[phase], tmp_path),
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            assert wait_for(lambda: len(processes_with(token)) >= 3, 90), "the workers never started"  # noqa: B023
            time.sleep(1.0)  # the evaluation is under way (a worker busy importing, or in the user's code)
            cli.kill()
            killed = time.monotonic()
            cli.wait(timeout=10)
            gone = wait_for(lambda: processes_with(token) == [], 2.0)  # noqa: B023
            gone_after.append(round(time.monotonic() - killed, 2))
            assert gone, f"left behind: {processes_with(token)}"
        finally:
            cli.kill()
            for pid in processes_with(token):
                os.kill(pid, signal.SIGKILL)
    print("workers gone after (s):", gone_after)


def _build_running(token: str) -> bool:
    for pid in processes_with(token):
        try:
            if b"61.5" in Path(f"/proc/{pid}/cmdline").read_bytes():
                return True
        except OSError:
            continue
    return False


def test_no_worker_is_left_after_the_cli_exits(tmp_path: Path) -> None:
    token = f"kernel-eval-test-{uuid.uuid4()}"
    env = {**os.environ, "KERNEL_EVAL_TEST_MARK": token}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO / "daemon"), env.get("PYTHONPATH", "")) if p)
    done = subprocess.run(
        cli_argv(*GOOD, tmp_path),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert wait_for(lambda: processes_with(token) == [], 2.0), f"left behind: {processes_with(token)}"
