"""A newcomer's mistakes through the CLI: each gets the file, the line, the cause and the fix, and exit 2, never a
traceback from kernel-eval's own code."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from cases import cpu_case

RunCli = Callable[..., subprocess.CompletedProcess[str]]

REF, CUSTOM = cpu_case("add")


def clean(proc: subprocess.CompletedProcess[str]) -> str:
    """stdout + stderr, checked to hold no traceback."""
    both = proc.stdout + proc.stderr
    assert "Traceback" not in both, both
    return both


def json_message(proc: subprocess.CompletedProcess[str]) -> dict[str, object]:
    data = json.loads(proc.stdout)
    assert data["verdict"] == "error"
    message = data["messages"][0]
    assert isinstance(message, dict)
    return message


@pytest.mark.parametrize(
    ("args", "says", "fix"),
    [
        (("--custom_src", "missing.py"), "error: no such custom file: missing.py", "check the path"),
        (
            ("--custom_src", CUSTOM, "--ref_src", "missing.py"),
            "no such reference file: missing.py",
            "--ref_src",
        ),
        (
            ("--custom_src", "tests"),
            "the custom path is a directory, not a file: tests",
            ".py file inside it",
        ),
        (
            ("--custom_src", CUSTOM, "--ref_src", "README.md"),
            "must be a Python file (.py): README.md",
            "--ref_src",
        ),
    ],
)
def test_bad_paths_are_answered_before_any_worker_starts(
    run_cli: RunCli, args: tuple[str | Path, ...], says: str, fix: str
) -> None:
    proc = run_cli(*args, "--device", "cpu")
    assert proc.returncode == 2
    out = clean(proc)
    assert says in out
    assert f"fix: {fix}" in out or fix in out.split("fix:", 1)[1]


def test_missing_custom_file_under_json_is_one_result(run_cli: RunCli) -> None:
    proc = run_cli("--custom_src", "missing.py", "--device", "cpu", "--json")
    assert proc.returncode == 2
    message = json_message(proc)
    assert (message["kind"], message["phase"]) == ("file_not_found", "load")
    assert "no such custom file" in str(message["message"])
    assert proc.stderr == ""


def test_unknown_device_is_refused(run_cli: RunCli) -> None:
    proc = run_cli("--custom_src", CUSTOM, "--ref_src", REF, "--device", "gpu7")
    assert proc.returncode == 2
    out = clean(proc)
    assert "error: unknown device 'gpu7'" in out
    assert 'fix: use "cpu", "cuda" (the first GPU) or "cuda:N" (GPU number N, from 0)' in out


def test_binary_file_names_the_line_of_the_first_bad_byte(run_cli: RunCli, tmp_path: Path) -> None:
    garbage = tmp_path / "model_new_garbage.py"
    garbage.write_bytes(b"import torch\n\n\x89PNG\x00\x01\x02")
    proc = run_cli("--custom_src", garbage, "--ref_src", REF, "--device", "cpu")
    assert proc.returncode == 2
    out = clean(proc)
    assert (
        f"{garbage}:3: error: the custom file is not Python source text: a byte that is not UTF-8 (0x89)"
        in out
    )
    assert "line 0" not in out
