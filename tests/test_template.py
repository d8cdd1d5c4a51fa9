"""Workers are forks of one template process (engine/template.py, worker/template.py): it has one thread and
nothing secret; a forked worker is confined as a fresh one is; and nothing a user's file does in its fork reaches the
template or the forks after it."""

from __future__ import annotations

import os
import signal
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from kernel_eval.engine import child_setup, template
from kernel_eval.engine.pool import WorkerPool
from kernel_eval.engine.processes import WorkerProcess
from kernel_eval.engine.template import ForkedProcess, Template
from kernel_eval.protocol import template as messages
from kernel_eval.protocol.template import Fork
from kernel_eval.request import EvalRequest
from kernel_eval.result import Verdict

DATA = Path(__file__).resolve().parent / "test_data"
RELU = DATA / "sandbox" / "model_relu.py"

HOSTILE = """
import os, signal
import torch
import torch.nn as nn
import kernel_eval.stages.check

# in this process only: the next fork must see none of it
torch.relu = lambda x: torch.zeros_like(x)
torch.Tensor.__add__ = lambda self, other: self
kernel_eval.stages.check.__dict__.clear()
for target in (os.getppid(), os.getpgid(os.getppid())):
    try:
        os.kill(target, signal.SIGKILL)
    except OSError:
        pass


class ModelNew(nn.Module):
    def forward(self, x):
        return x.clamp(min=0)
"""

HONEST = """
import torch
import torch.nn as nn


class ModelNew(nn.Module):
    def forward(self, x):
        return torch.relu(x) + 0
"""


@pytest.fixture
def folder() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="kernel-eval-template-test-") as name:
        yield Path(name)


def test_the_template_has_one_thread_no_cuda_and_no_secret(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MY_SERVICE_API_KEY", "sk-template")
    # a name the user passes on reaches fresh children, never the template
    monkeypatch.setenv("KERNEL_EVAL_PASS_ENV", "MY_SERVICE_API_KEY")
    environment = child_setup.template_environment(folder / "tmp")
    assert "MY_SERVICE_API_KEY" not in environment
    made = Template(environment, folder)
    try:
        ready = made.ready.result(timeout=300)
        assert ready.threads == 1
        if os.geteuid() == 0:  # others cannot read an undumpable process's /proc files at all
            assert b"sk-template" not in Path(f"/proc/{ready.pid}/environ").read_bytes()
            # no driver loaded, so no CUDA state a fork could not use
            assert "libcuda.so" not in Path(f"/proc/{ready.pid}/maps").read_text()
    finally:
        made.close()
    assert made._process.poll() is not None


def test_a_forked_worker_is_confined_as_a_fresh_one_is(monkeypatch: pytest.MonkeyPatch) -> None:
    payloads = tempfile.mkdtemp(prefix="kernel-eval-payload-")
    forked = WorkerProcess("candidate", "cpu", payloads)
    monkeypatch.setenv(template.ENABLE_ENV, "0")
    fresh = WorkerProcess("candidate", "cpu", payloads)
    try:
        assert isinstance(forked._proc, ForkedProcess) and not isinstance(fresh._proc, ForkedProcess)
        forked_hello, fresh_hello = forked.wait_ready(300), fresh.wait_ready(300)
        assert forked_hello.sandbox == fresh_hello.sandbox
        assert forked_hello.pid == forked.pid
        assert os.getpgid(forked.pid) == forked.pid  # its own process group: a kill reaches what it started
        assert Path(f"/proc/{forked.pid}/comm").read_text().strip() == "ke-candidate"
    finally:
        forked.close()
        fresh.close()
    assert forked._proc.returncode == -signal.SIGKILL


def test_a_forked_candidate_cannot_change_the_template_or_the_next_fork(tmp_path: Path) -> None:
    (tmp_path / "model_new_hostile.py").write_text(HOSTILE)
    (tmp_path / "model_new_honest.py").write_text(HONEST)
    shared = template.shared()
    assert shared is not None
    template_pid = shared.ready.result(timeout=300).pid
    with WorkerPool(spares=0) as pool:  # each file gets a candidate forked when it is needed
        for custom in ("model_new_hostile.py", "model_new_honest.py"):
            request = EvalRequest(ref_src=str(RELU), custom_src=str(tmp_path / custom), device="cpu")
            result = pool.evaluate(request)
            assert result.verdict is Verdict.CORRECT, (custom, result.errors)
    assert template.shared() is shared and shared.alive
    assert shared.ready.result().pid == template_pid


def test_a_dead_template_is_replaced_and_its_children_go_with_it() -> None:
    first = template.shared()
    assert first is not None
    orphan = WorkerProcess("candidate", "cpu", tempfile.mkdtemp(prefix="kernel-eval-payload-"))
    orphan.wait_ready(300)
    os.kill(first.ready.result(timeout=300).pid, signal.SIGKILL)
    assert (
        orphan._proc.wait(timeout=10) == -signal.SIGKILL
    )  # its watchdog saw its parent go; nobody reaps it for us
    assert not first.alive
    orphan.close()
    worker = WorkerProcess("candidate", "cpu", tempfile.mkdtemp(prefix="kernel-eval-payload-"))
    try:
        assert worker.wait_ready(300).device == "cpu"
        assert isinstance(worker._proc, ForkedProcess)
        assert template.shared() is not first
    finally:
        worker.close()


def test_a_forked_worker_still_shares_the_template_memory_after_a_full_collection(tmp_path: Path) -> None:
    """The template's objects are frozen out of the collector: a child's collection neither walks them nor copies
    their pages, so a candidate costs little memory of its own (about a third of its resident size otherwise)."""
    (tmp_path / "model_new_collects.py").write_text(HONEST + "\nimport gc\n\ngc.collect()\n")
    with WorkerPool(spares=0) as pool:
        request = EvalRequest(
            ref_src=str(RELU), custom_src=str(tmp_path / "model_new_collects.py"), device="cpu"
        )
        assert pool.evaluate(request).verdict is Verdict.CORRECT
        candidate = pool._candidate
        assert candidate is not None and isinstance(candidate._proc, ForkedProcess)
        memory = _memory_kb(candidate.pid)
    assert memory["Private_Dirty"] < 0.2 * memory["Rss"], memory


def _memory_kb(pid: int) -> dict[str, int]:
    fields = (line.split() for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:])
    return {parts[0].rstrip(":"): int(parts[1]) for parts in fields if len(parts) == 3}


def test_an_engine_that_leaves_before_its_answer_lets_the_template_exit_quietly(folder: Path) -> None:
    """A stopped batch exits while a lane still asks for a fork: the template's answer finds no one. It exits 0 and
    writes no traceback (one once reached a user, in the batch's warning that the fork had failed)."""
    made = Template(child_setup.template_environment(folder / "tmp"), folder)
    try:
        made.ready.result(timeout=300)
        quiet = os.open(os.devnull, os.O_WRONLY)
        request = Fork(1, "kernel_eval.worker.build_only", [], {}, str(folder), [1, 2])
        socket.send_fds(made._control, [messages.encode(request)], [quiet, quiet])
        os.close(quiet)
        made._control.shutdown(socket.SHUT_RDWR)  # gone before the template has forked

        assert made._process.wait(timeout=60) == 0, made.tail()
        assert "Traceback" not in made.tail()
    finally:
        made.close()
