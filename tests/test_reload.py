"""A warm worker sees edits: to the custom file, and to helper modules imported next to it."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from cases import CPU_DATA

from kernel_eval.engine.pool import WorkerPool
from kernel_eval.request import EvalRequest
from kernel_eval.result import Verdict

CUSTOM = """
import torch.nn as nn
from add_helper import combine


class ModelNew(nn.Module):
    def forward(self, a, b):
        return combine(a, b)
"""


def write_helper(folder: Path, body: str) -> None:
    helper = folder / "add_helper.py"
    helper.write_text(f"def combine(a, b):\n    return {body}\n")
    stamp = time.time() + 1  # a new mtime even when the file system's clock is coarse
    os.utime(helper, (stamp, stamp))


def test_edited_helper_module_is_reloaded(pool: WorkerPool, tmp_path: Path) -> None:
    shutil.copy(CPU_DATA / "model_add.py", tmp_path / "model_add.py")
    (tmp_path / "model_new_add.py").write_text(CUSTOM)
    request = EvalRequest(str(tmp_path / "model_add.py"), str(tmp_path / "model_new_add.py"), device="cpu")

    write_helper(tmp_path, "a + b")
    assert pool.evaluate(request).verdict is Verdict.CORRECT
    assert pool.evaluate(request).verdict is Verdict.CORRECT  # unchanged: the module is reused

    write_helper(tmp_path, "a - b")
    assert pool.evaluate(request).verdict is Verdict.INCORRECT

    write_helper(tmp_path, "b + a")
    assert pool.evaluate(request).verdict is Verdict.CORRECT
