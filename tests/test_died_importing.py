"""A worker that dies while importing a user's file, with no Python error to read: the result names the line that
was running, and says "out of memory" when the kernel's OOM killer did it."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from cases import cpu_case

from kernel_eval import import_line
from kernel_eval.engine.pool import WorkerPool
from kernel_eval.request import EvalRequest
from kernel_eval.result import EvalResult, Message, Verdict

REF, _ = cpu_case("add")
TAIL = """import torch.nn as nn


class ModelNew(nn.Module):
    def forward(self, a, b):
        return a + b
"""


def died(pool: WorkerPool, tmp_path: Path, head: str) -> Message:
    custom = tmp_path / "model_new_dies.py"
    custom.write_text(head + TAIL)
    request = EvalRequest(
        ref_src=str(REF), custom_src=str(custom), device="cpu", build_dir_prefix=str(tmp_path)
    )
    result: EvalResult = pool.evaluate(request)
    assert result.verdict is Verdict.ERROR
    [error] = result.errors
    assert error.location is not None and error.location.file == str(custom)
    return error


def test_os_exit_during_import_is_reported_at_its_line(pool: WorkerPool, tmp_path: Path) -> None:
    error = died(pool, tmp_path, "import os\n\nos._exit(0)\n")
    assert error.kind == "crash"
    assert (
        error.message == "the worker process exited with status 0 while importing line 3 of the custom file"
    )
    assert error.location is not None and error.location.line == 3
    assert "os._exit" in error.hint


def test_sigkill_in_a_helper_names_the_innermost_line(pool: WorkerPool, tmp_path: Path) -> None:
    head = "import os\nimport signal\n\n\ndef allocate():\n    os.kill(os.getpid(), signal.SIGKILL)\n\n\nallocate()\n"
    error = died(pool, tmp_path, head)
    assert (error.kind, error.location and error.location.line) == ("crash", 6)
    assert (
        error.message == "the worker process was killed by SIGKILL while importing line 6 of the custom file"
    )


def test_sigkill_with_an_oom_kill_counted_says_out_of_memory(
    pool: WorkerPool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    counts = itertools.count()  # the kernel's count rises between the evaluation's start and the death
    monkeypatch.setattr(import_line, "oom_kills", lambda: next(counts))
    error = died(pool, tmp_path, "import os\nimport signal\n\nos.kill(os.getpid(), signal.SIGKILL)\n")
    assert error.kind == "out_of_memory"
    assert error.message == (
        "out of memory: the kernel's OOM killer killed the custom side's process while importing line 4 of the "
        "custom file"
    )
    assert error.location is not None and error.location.line == 4


def test_oom_kill_counters_are_read_from_the_kernel(tmp_path: Path) -> None:
    events = tmp_path / "memory.events"
    events.write_text("low 0\nhigh 0\nmax 3\noom 2\noom_kill 2\n")
    assert import_line._counter(events, "oom_kill") == 2
    assert import_line._counter(tmp_path / "absent", "oom_kill") == 0
    assert import_line.oom_kills() >= 0
