"""A newcomer's mistakes through the CLI: each gets the file, the line, the cause and the fix, and exit 2, never a
traceback from kernel-eval's own code."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from cases import cpu_case

RunCli = Callable[..., subprocess.CompletedProcess[str]]

REF, CUSTOM = cpu_case("add")
REPO = Path(__file__).resolve().parent.parent


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


# --- mistakes found once the files are imported: at the user's line, with the cause and the fix ---------------

NOT_A_MODULE = """import torch


class ModelNew:
    def forward(self, a, b):
        return a + b
"""
NOT_CALLABLE = "import torch\n\nModelNew = 42\n"
WRONG_INIT = """import torch
import torch.nn as nn


class ModelNew(nn.Module):
    def __init__(self, hidden, scale=2.0):
        super().__init__()

    def forward(self, a, b):
        return a + b
"""
REF_WITH_INIT_INPUTS = REF.read_text().replace("return []", "return [torch.randn(3, 3), 7]")


def run_custom(run_cli: RunCli, tmp_path: Path, text: str, *more: str) -> subprocess.CompletedProcess[str]:
    custom = tmp_path / "model_new_mistake.py"
    custom.write_text(text)
    return run_cli("--custom_src", custom, "--ref_src", REF, "--device", "cpu", *more)


def test_a_class_that_is_not_a_module(run_cli: RunCli, tmp_path: Path) -> None:
    proc = run_custom(run_cli, tmp_path, NOT_A_MODULE)
    assert proc.returncode == 2
    out = clean(proc)
    assert (
        f"{tmp_path}/model_new_mistake.py:4: error: class ModelNew is not a torch.nn.Module (its bases: object)"
        in out
    )
    assert "fix: write `class ModelNew(nn.Module):` and call super().__init__() first in __init__" in out
    assert "state_dict" not in out


def test_an_entry_point_that_is_not_callable(run_cli: RunCli, tmp_path: Path) -> None:
    proc = run_custom(run_cli, tmp_path, NOT_CALLABLE, "--json")
    assert proc.returncode == 2
    message = json_message(proc)
    assert message["kind"] == "entry_point_not_callable"
    assert message["message"] == "ModelNew is an int (42), not a class: it cannot make a model"
    assert message["location"] == {
        "file": str(tmp_path / "model_new_mistake.py"),
        "line": 3,
        "column": 0,
        "end_line": 0,
        "end_column": 0,
    }
    assert "class ModelNew(nn.Module)" in str(message["hint"])


def test_a_constructor_that_does_not_take_get_init_inputs(run_cli: RunCli, tmp_path: Path) -> None:
    proc = run_custom(run_cli, tmp_path, WRONG_INIT)
    assert proc.returncode == 2
    out = clean(proc)
    assert (
        f"{tmp_path}/model_new_mistake.py:6: error: ModelNew(hidden, scale=2.0) cannot take the arguments "
        "get_init_inputs() returns, []: missing a required argument: 'hidden'"
    ) in out
    assert "fix: make ModelNew.__init__ take the same arguments as the reference Model's __init__" in out


def test_a_reference_whose_model_does_not_take_get_init_inputs(run_cli: RunCli, tmp_path: Path) -> None:
    ref = tmp_path / "model_ref.py"
    ref.write_text(REF_WITH_INIT_INPUTS)
    proc = run_cli("--custom_src", CUSTOM, "--ref_src", ref, "--device", "cpu")
    assert proc.returncode == 2
    out = clean(proc)
    assert (
        f"{ref}:5: error: Model() cannot take the arguments get_init_inputs() returns, "
        "[tensor(shape=[3, 3], dtype=torch.float32), 7]: too many positional arguments"
    ) in out
    assert (
        "fix: make Model.__init__ take the values get_init_inputs() returns, or change get_init_inputs()"
        in out
    )


# --- one flag style, help that says each default once, and names the command that was run ---------------------


@pytest.mark.parametrize("command", [(), ("batch",), ("history",), ("serve",)])
def test_help_states_each_default_once_in_dashed_flags(run_cli: RunCli, command: tuple[str, ...]) -> None:
    proc = run_cli(*command, "--help")
    assert proc.returncode == 0
    options = re.split(r"\n  (?=--|str )", proc.stdout)[1:]  # one block per option
    assert options and any("(default: " in block for block in options)
    for block in options:
        assert len(re.findall(r"default", block)) <= 1, block
    usage = proc.stdout.split("\n\n")[0]
    assert not re.search(r"--\w*_", usage), usage
    assert usage.startswith(f"usage: {' '.join(('run_and_check.py', *command))} [-h]")


def test_help_names_the_command_that_was_run(tmp_path: Path) -> None:
    kernel_eval = Path(sys.executable).parent / "kernel-eval"
    if not kernel_eval.exists():
        pytest.skip("kernel-eval is not installed next to this Python")
    proc = subprocess.run([kernel_eval, "--help"], capture_output=True, text=True, timeout=60, check=False)
    assert proc.stdout.startswith("usage: kernel-eval [-h] --custom-src str")
    assert "run_and_check" not in proc.stdout


def test_underscore_and_dash_flags_mean_the_same(run_cli: RunCli) -> None:
    underscored = run_cli(
        "--custom_src", CUSTOM, "--ref_src", REF, "--device", "cpu", "--num_correct_trials=2", "--json"
    )
    dashed = run_cli(
        "--custom-src", CUSTOM, "--ref-src", REF, "--device", "cpu", "--num-correct-trials=2", "--json"
    )
    for proc in (underscored, dashed):
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout)["correctness"]["num_trials"] == 3


# --- progress: a terminal sees where the evaluation is while it runs -------------------------------------------


def test_a_terminal_sees_the_phases_while_it_waits(tmp_path: Path) -> None:
    import pty

    controller, terminal = pty.openpty()
    path = os.pathsep.join(p for p in (str(REPO / "daemon"), os.environ.get("PYTHONPATH", "")) if p)
    argv = [sys.executable, str(REPO / "scripts" / "run_and_check.py"), "--ref_src", str(REF), "--custom_src"]
    argv += [str(CUSTOM), "--device", "cpu", "--build_dir_prefix", str(tmp_path / "build")]
    argv += [
        "--no_server"
    ]  # workers that start while it watches (a warm server's have nothing to show there)
    proc = subprocess.Popen(
        argv,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": path},
        stdout=subprocess.PIPE,
        stderr=terminal,
        text=True,
    )
    os.close(terminal)
    seen = b""
    while True:
        try:
            chunk = os.read(controller, 4096)
        except OSError:  # the terminal closed: every process holding it is gone
            break
        if not chunk:
            break
        seen += chunk
    stdout, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0
    shown = seen.decode(errors="replace")
    for phase in ("load · starting workers", "check · correctness"):  # a quick build may flash by unseen
        assert phase in shown, shown
    assert stdout.startswith("correct: model_new_add.py")


def test_a_gpu_the_machine_does_not_have_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from kernel_eval import preflight

    gpus = tmp_path / "gpus"
    (gpus / "0000:18:00.0").mkdir(parents=True)  # what NVIDIA's driver shows for one GPU
    monkeypatch.setattr(preflight, "NVIDIA_GPUS", str(gpus))
    problem = preflight.check_device("cuda:7")
    assert problem is not None and problem.kind == "no_such_device"
    assert problem.message == "no GPU cuda:7 on this machine: it has 1 NVIDIA GPU (cuda:0)"
    assert problem.hint == "pass --device cuda:N with N below 1, or --device cpu"
    assert preflight.check_device("cuda:0") is None and preflight.check_device("cuda") is None
    monkeypatch.setattr(preflight, "NVIDIA_GPUS", str(tmp_path / "no-driver"))
    assert preflight.check_device("cuda:7") is None  # no driver: the CPU fallback with a note, as before
