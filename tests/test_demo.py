"""scripts/demo.sh, a newcomer's first run: it says what it does, what it skipped and why, and what to do next."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(
    not (REPO / ".venv" / "bin" / "kernel-eval").exists(), reason="needs .venv (install_python.sh)"
)
def test_demo_reports_each_example_what_it_skipped_and_next_steps() -> None:
    env = {**os.environ, "KERNEL_EVAL_DEMO_SKIP_INSTALL": "1", "COLUMNS": "100"}
    done = subprocess.run(
        ["bash", "scripts/demo.sh"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    assert "== 1. install: skipped (KERNEL_EVAL_DEMO_SKIP_INSTALL=1; using .venv as it is)" in out
    assert "== Triton example (takes " in out
    assert "   $ kernel-eval --ref-src examples/triton_add/model_add.py" in out
    summary = out.split("== Summary", 1)[1]
    assert "   ok       Triton example: correct (" in summary
    assert "   ok       TorchInductor-style (KernelBook) Triton example: correct (" in summary
    if not torch.cuda.is_available():
        assert (
            "skipped: the CUDA load_inline example (it builds a CUDA extension, which needs an NVIDIA GPU)"
            in out
        )
        assert "   skipped  CUDA load_inline example: no CUDA GPU on this machine" in summary
        assert "CUDA is not available here" not in out  # the demo asks for the CPU itself
    assert "source .venv/bin/activate" in summary and ".venv/bin/kernel-eval" in summary
    assert "Traceback" not in out + done.stderr
