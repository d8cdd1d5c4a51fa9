"""`python scripts/run_and_check.py` end to end, as a user runs it: real processes, real files, exit codes."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from cases import cpu_case

from kernel_eval.result import EvalResult, Verdict

RunCli = Callable[..., subprocess.CompletedProcess[str]]

REPO = Path(__file__).resolve().parent.parent
TRITON_ADD = REPO / "examples" / "triton_add"
CPU = REPO / "tests" / "test_data" / "cpu"
CUDA = REPO / "tests" / "test_data" / "cuda"
TRITON = REPO / "tests" / "test_data" / "triton"

EXAMPLE = ("--ref_src", TRITON_ADD / "model_add.py", "--custom_src", TRITON_ADD / "model_new_add.py")
EMBED = (
    "--ref_src",
    "tests/test_data/triton/embed_code.py",
    "--custom_src",
    "tests/test_data/triton/embed_triton.py",
    "--ref_entry_point",
    "LinearEmbedding",
    "--custom_entry_point",
    "LinearEmbeddingNew",
    "--measure_performance",
)


def pair(case: str) -> tuple[str, Path, str, Path]:
    ref, custom = cpu_case(case)
    return ("--ref_src", ref, "--custom_src", custom)


def json_result(proc: subprocess.CompletedProcess[str]) -> EvalResult:
    """--json promises exactly one JSON object on stdout and nothing else."""
    try:
        data = json.loads(proc.stdout)
    except json.JSONDecodeError as exc:
        raise AssertionError(f"stdout is not one JSON object ({exc}):\n{proc.stdout}\n{proc.stderr}") from exc
    assert isinstance(data, dict)
    return EvalResult.from_dict(data)


def human(proc: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback (most recent call last)" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    return proc.stdout


# --- the Triton example through the interpreter --------------------------------------------------------------


def test_example_human_output_says_correct(run_cli: RunCli) -> None:
    proc = run_cli(*EXAMPLE, "--device", "cpu")

    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = human(proc)
    assert out.splitlines()[0].startswith("correct")
    assert "model_new_add.py" in out.splitlines()[0]


def test_example_json_output(run_cli: RunCli) -> None:
    proc = run_cli(*EXAMPLE, "--device", "cpu", "--json", "--num_correct_trials", "2")

    assert proc.returncode == 0, proc.stderr
    result = json_result(proc)
    assert result.verdict is Verdict.CORRECT
    assert result.backend.value == "triton"
    assert result.device == "cpu"
    assert result.correctness is not None
    assert (result.correctness.num_trials, result.correctness.num_secret_trials) == (3, 1)


def test_example_timing_on_cpu_is_labelled_not_meaningful(run_cli: RunCli) -> None:
    proc = run_cli(*EXAMPLE, "--device", "cpu", "--measure_performance", "--num_perf_trials", "10")

    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = human(proc)
    assert "speedup" in out
    assert "not meaningful" in out
    assert "median" in out


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the default device on a machine without CUDA")
def test_default_device_is_cpu_without_cuda(run_cli: RunCli) -> None:
    proc = run_cli(*EXAMPLE, "--json")

    assert proc.returncode == 0, proc.stderr
    assert json_result(proc).device == "cpu"


# --- exit codes and what each verdict shows ------------------------------------------------------------------


def test_incorrect_exits_1_with_a_mismatch_table(run_cli: RunCli) -> None:
    proc = run_cli(*pair("dict_wrong"), "--device", "cpu")

    assert proc.returncode == 1, proc.stdout + proc.stderr
    out = human(proc)
    assert out.splitlines()[0].startswith("incorrect")
    assert "output['max']" in out
    assert "max abs err" in out


def test_mismatch_table_shows_both_errors_against_the_float64_answer(run_cli: RunCli) -> None:
    proc = run_cli(*pair("large_k_fp16"), "--device", "cpu")

    assert proc.returncode == 1, proc.stdout + proc.stderr
    out = human(proc)
    assert "err vs float64 (custom / ref / allowed)" in out
    assert re.search(r"max [0-9.e+-]+ / [0-9.e+-]+ / [0-9.e+-]+", out) and re.search(
        r"rms [0-9.e+-]+ / ", out
    )
    assert "further from the float64 answer than 32× the reference's error" in out
    assert "the size of fp16/bf16/TF32 rounding" in out


def test_flagged_correct_result_exits_1_and_shows_the_flag(run_cli: RunCli) -> None:
    proc = run_cli(*pair("zeros"), "--device", "cpu", "--atol", "1e-3", "--rtol", "1e-3")

    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "⚑ vacuous_check: vacuous check: a kernel returning constants would pass" in human(proc)


def test_incorrect_json(run_cli: RunCli) -> None:
    proc = run_cli(*pair("wrong_shape"), "--device", "cpu", "--json")

    assert proc.returncode == 1
    result = json_result(proc)
    assert result.verdict is Verdict.INCORRECT
    assert result.correctness is not None
    failing = result.correctness.first_failure
    assert failing is not None
    assert [o.reason for o in failing.outputs] == ["shape"]


def test_syntax_error_exits_2_naming_file_and_line(run_cli: RunCli) -> None:
    custom = CPU / "model_new_syntax_error.py"
    line = next(i for i, t in enumerate(custom.read_text().splitlines(), 1) if "syntax error on purpose" in t)
    proc = run_cli(*pair("syntax_error"), "--device", "cpu")

    assert proc.returncode == 2, proc.stdout + proc.stderr
    out = human(proc)
    assert out.splitlines()[0].startswith("error")
    assert f"model_new_syntax_error.py:{line}" in out


def test_tolerance_flags(run_cli: RunCli) -> None:
    strict = run_cli(*pair("gelu_tanh"), "--device", "cpu")
    loose = run_cli(*pair("gelu_tanh"), "--device", "cpu", "--atol", "1e-2", "--rtol", "1e-2")

    assert strict.returncode == 1, strict.stdout + strict.stderr
    assert loose.returncode == 0, loose.stdout + loose.stderr


def test_timeout_flag_stops_a_hang(run_cli: RunCli) -> None:
    proc = run_cli(*pair("hang"), "--device", "cpu", "--timeout", "3", "--json")

    assert proc.returncode == 2
    result = json_result(proc)
    assert [m.kind for m in result.errors] == ["timeout"]


def test_json_stdout_stays_clean_when_user_code_prints(run_cli: RunCli) -> None:
    proc = run_cli(*pair("prints"), "--device", "cpu", "--json")

    assert proc.returncode == 0, proc.stderr
    result = json_result(proc)
    assert "custom forward: raw write to fd 1" in result.captured_output["custom"]
    assert "custom forward" not in proc.stderr


# --- the KernelBook / Inductor pair --------------------------------------------------------------------------


def test_inductor_generated_file_runs_with_a_compat_note(run_cli: RunCli) -> None:
    proc = run_cli(*EMBED, "--device", "cpu", "--json")

    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json_result(proc)
    assert result.verdict is Verdict.CORRECT
    assert result.backend.value == "triton"
    assert result.timing is not None
    assert result.timing.meaningful is False
    shims = [m for m in result.messages if m.kind == "compat_shim"]
    assert shims, result.messages
    assert shims[0].severity.value == "warning"
    assert "grid" in shims[0].message


def test_inductor_pair_human_output(run_cli: RunCli) -> None:
    proc = run_cli(*EMBED, "--device", "cpu")

    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = human(proc)
    assert out.splitlines()[0].startswith("correct")
    assert "speedup" in out
    assert "not meaningful" in out


# --- builds and devices --------------------------------------------------------------------------------------


def test_clear_cache_removes_the_key_directory(run_cli: RunCli, tmp_path: Path) -> None:
    prefix = tmp_path / "shared-build"
    first = json_result(run_cli(*EXAMPLE, "--device", "cpu", "--json", "--build_dir_prefix", prefix))
    cache_dir = Path(first.cache_dir)
    assert cache_dir.is_dir()
    assert cache_dir.resolve().is_relative_to(prefix.resolve())
    leftover = cache_dir / "left-by-an-earlier-build"
    leftover.write_text("stale")

    again = json_result(run_cli(*EXAMPLE, "--device", "cpu", "--json", "--build_dir_prefix", prefix))
    assert again.cache_dir == first.cache_dir, "the same source maps to the same key"
    assert leftover.exists(), "without --clear_cache the key's directory is reused"

    cleared = json_result(
        run_cli(*EXAMPLE, "--device", "cpu", "--json", "--build_dir_prefix", prefix, "--clear_cache")
    )
    assert cleared.verdict is Verdict.CORRECT
    assert cleared.cache_dir == first.cache_dir
    assert cache_dir.is_dir(), "the directory is rebuilt"
    assert not leftover.exists(), "--clear_cache removed the old contents"


def test_cuda_extension_on_cpu_needs_a_gpu(run_cli: RunCli) -> None:
    args = ("--ref_src", CUDA / "model_ex_add.py", "--custom_src", CUDA / "model_new_ex_add.py")
    proc = run_cli(*args, "--device", "cpu", "--json")

    assert proc.returncode == 2, proc.stdout + proc.stderr
    result = json_result(proc)
    assert [m.kind for m in result.errors] == ["cuda_unavailable"]
    assert "needs a CUDA GPU" in result.errors[0].message

    plain = run_cli(*args, "--device", "cpu")
    assert plain.returncode == 2
    assert "needs a CUDA GPU" in human(plain)


# --- GPU: the two commands users of the original tool know ---------------------------------------------------


@pytest.mark.gpu
def test_gpu_original_cuda_command(run_cli: RunCli) -> None:
    proc = run_cli(
        "--ref_src",
        "tests/test_data/cuda/model_ex_add.py",
        "--custom_src",
        "tests/test_data/cuda/model_new_ex_add.py",
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert human(proc).splitlines()[0].startswith("correct")

    timed = json_result(
        run_cli(
            "--ref_src",
            "tests/test_data/cuda/model_ex_add.py",
            "--custom_src",
            "tests/test_data/cuda/model_new_ex_add.py",
            "--measure_performance",
            "--json",
        )
    )
    assert timed.verdict is Verdict.CORRECT
    assert timed.backend.value == "cuda_extension"
    assert timed.timing is not None
    assert timed.timing.meaningful is True
    assert timed.timing.speedup > 0


@pytest.mark.gpu
def test_gpu_original_triton_command(run_cli: RunCli) -> None:
    proc = run_cli(*EMBED)

    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = human(proc)
    assert out.splitlines()[0].startswith("correct")
    assert "speedup" in out
    assert "not meaningful" not in out

    result = json_result(run_cli(*EMBED, "--json"))
    assert result.device.startswith("cuda")
    assert result.timing is not None
    assert result.timing.meaningful is True
    assert result.timing.speedup > 0


@pytest.mark.gpu
def test_gpu_triton_example(run_cli: RunCli) -> None:
    result = json_result(run_cli(*EXAMPLE, "--measure_performance", "--json"))

    assert result.verdict is Verdict.CORRECT
    assert result.device.startswith("cuda")
    assert result.timing is not None
    assert result.timing.meaningful is True


def test_reference_is_found_by_the_same_rules_as_the_editor(run_cli: RunCli, tmp_path: Path) -> None:
    ref, custom = cpu_case("add")
    (tmp_path / "model_relu.py").write_text(ref.read_text())
    (tmp_path / "model_new_relu.py").write_text(custom.read_text())
    done = run_cli("--custom_src", tmp_path / "model_new_relu.py", "--device", "cpu", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["ref"]["file"] == str(tmp_path / "model_relu.py")


def test_no_reference_found_says_how_to_name_one(run_cli: RunCli, tmp_path: Path) -> None:
    lonely = tmp_path / "kernel.py"
    lonely.write_text(cpu_case("add")[1].read_text())
    done = run_cli("--custom_src", lonely, "--device", "cpu")
    assert done.returncode == 2
    assert f"{lonely}:1: error: no reference found for kernel.py: pass --ref_src" in done.stderr


def test_no_reference_found_under_json_is_one_result_to_parse(run_cli: RunCli, tmp_path: Path) -> None:
    lonely = tmp_path / "kernel.py"
    lonely.write_text(cpu_case("add")[1].read_text())
    done = run_cli("--custom_src", lonely, "--device", "cpu", "--json")
    result = json_result(done)
    assert done.returncode == 2 and result.verdict is Verdict.ERROR
    (error,) = result.errors
    assert error.kind == "no_reference" and error.location is not None and error.location.line == 1
    assert error.message.startswith("no reference found for kernel.py: pass --ref_src")
