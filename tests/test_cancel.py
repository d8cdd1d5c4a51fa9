"""Ctrl-C and SIGTERM: the CLI still prints one result (under --json, one JSON object) and both the CLI and
batches exit 130, the one status for cancellation the README documents."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cases import cpu_case

from kernel_eval.result import EXIT_CANCELLED

REPO = Path(__file__).resolve().parent.parent
REF, HANG = cpu_case("hang")


def start(*args: str | Path, tmp_path: Path) -> subprocess.Popen[str]:
    path = os.pathsep.join(p for p in (str(REPO / "daemon"), os.environ.get("PYTHONPATH", "")) if p)
    argv = [sys.executable, str(REPO / "scripts" / "run_and_check.py"), *map(str, args)]
    return subprocess.Popen(
        argv,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": path, "COLUMNS": "200"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def stopped(proc: subprocess.Popen[str], signum: int, after_s: float) -> tuple[str, str]:
    time.sleep(after_s)
    proc.send_signal(signum)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == EXIT_CANCELLED, stdout + stderr
    assert "Traceback" not in stdout + stderr
    return stdout, stderr


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_cancelled_under_json_prints_one_result_and_exits_130(signum: int, tmp_path: Path) -> None:
    proc = start("--ref_src", REF, "--custom_src", HANG, "--device", "cpu", "--json", tmp_path=tmp_path)
    stdout, _ = stopped(proc, signum, after_s=8)
    data = json.loads(stdout)
    assert data["verdict"] == "cancelled"
    assert [m["kind"] for m in data["messages"] if m["severity"] == "error"] == ["cancelled"]
    assert data["headline"].startswith("⏹ cancelled — stopped in the ")


def test_cancelled_human_output_says_so(tmp_path: Path) -> None:
    proc = start("--ref_src", REF, "--custom_src", HANG, "--device", "cpu", tmp_path=tmp_path)
    stdout, stderr = stopped(proc, signal.SIGINT, after_s=8)
    assert stdout.startswith("cancelled: stopped evaluating model_new_hang.py in the ")
    assert "interrupted: evaluation cancelled" in stderr


def test_batch_stopped_by_sigterm_exits_130_and_says_how_to_resume(tmp_path: Path) -> None:
    pairs = tmp_path / "pairs" / "hang"
    pairs.mkdir(parents=True)
    shutil.copy(REF, pairs / "ref.py")
    shutil.copy(HANG, pairs / "custom.py")
    out = tmp_path / "results.jsonl"
    proc = start("batch", tmp_path / "pairs", "--out", out, "--quiet", "--build-jobs", "1", tmp_path=tmp_path)
    _, stderr = stopped(proc, signal.SIGTERM, after_s=10)
    assert "interrupted: the finished pairs are in" in stderr
    assert "run the same command again to resume" in stderr
