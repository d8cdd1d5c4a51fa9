"""What the CLI prints reads well: speedups below 1 as "N× slower", tables whole at 80 columns, no internal names."""

from __future__ import annotations

import subprocess
from collections.abc import Callable

import pytest
import torch
from rich.console import Console

from kernel_eval.render import render_result
from kernel_eval.result import (
    Correctness,
    EvalResult,
    OutputComparison,
    Phase,
    SourceInfo,
    Timing,
    TimingStats,
    TrialResult,
    Verdict,
    speed_words,
)

RunCli = Callable[..., subprocess.CompletedProcess[str]]


def stats(median: float, low: float, high: float) -> TimingStats:
    return TimingStats(median, 0.0031, median, 0.01, low * 0.9, high * 1.1, 12281, [low, high])


def result(speedup: float = 0.00071, outputs: int = 0) -> EvalResult:
    done = EvalResult(
        Verdict.CORRECT,
        Phase.DONE,
        SourceInfo("/w/model_add.py", "Model"),
        SourceInfo("/w/model_new_add.py", "ModelNew"),
        "cpu",
        correctness=Correctness(3, 3, 1),
    )
    done.timing = Timing(
        stats(0.01572, 0.01571, 0.01573),
        stats(22.14, 21.4213, 23.6012),
        speedup,
        "time.perf_counter around each call",
        meaningful=False,
        speedup_ci95=[0.000666, 0.000734],
    )
    if outputs:
        leaves = [
            OutputComparison(
                f"output[{i}]", False, "values", [64, 64], [64, 64], "float32", "float32", 1e-4, 1e-4
            )
            for i in range(outputs)
        ]
        done.verdict, done.phase = Verdict.INCORRECT, Phase.CHECK
        done.correctness = Correctness(3, 0, 1, [TrialResult(0, 43, False, leaves)])
    return done


def printed(value: EvalResult, width: int) -> list[str]:
    console = Console(width=width, record=True, highlight=False, soft_wrap=False)
    render_result(value, console)
    return console.export_text().splitlines()


def test_speedups_below_one_read_as_times_slower() -> None:
    assert speed_words(0.00071) == "1,408× slower"
    assert speed_words(0.5) == "2× slower"
    assert speed_words(0.85) == "1.18× slower"
    assert speed_words(2.314) == "2.31× faster"
    assert result().headline.startswith("✓ correct · 1,408× slower (22.1 ms vs 0.0157 ms)")


def test_verdict_line_says_how_many_times_slower() -> None:
    first = printed(result(), 200)[0]
    assert first.endswith("· 1,408× slower — CPU timing, not meaningful")


def test_timing_table_is_whole_at_80_columns() -> None:
    lines = printed(result(), 80)
    table = [line for line in lines if line.startswith(("┃", "│", "┏", "└"))]
    assert table and all(len(line) <= 80 for line in table)
    text = "\n".join(lines)
    assert "0.01571–0.01573" in text and "21.42–23.6" in text and "…" not in text


def test_mismatch_table_fits_80_columns_with_outputs_as_columns() -> None:
    lines = printed(result(outputs=3), 80)
    table = [line for line in lines if line.startswith(("┃", "│", "┏", "└"))]
    assert table and all(len(line) <= 80 for line in table), "\n".join(lines)
    assert "output[2]" in table[1] and "…" not in "\n".join(lines)
    assert any(line.startswith("│ max abs err") for line in table)


@pytest.mark.skipif(torch.cuda.is_available(), reason="the note is for machines without CUDA")
def test_kernelbook_note_names_no_internals(run_cli: RunCli) -> None:
    proc = run_cli(
        "--ref_src",
        "tests/test_data/triton/embed_code.py",
        "--custom_src",
        "tests/test_data/triton/embed_triton.py",
        "--ref_entry_point",
        "LinearEmbedding",
        "--custom_entry_point",
        "LinearEmbeddingNew",
        "--device",
        "cpu",
    )
    assert proc.returncode == 0, proc.stderr
    for internal in ("empty_strided_cuda", "_DeviceGuard", "triton_heuristics", "get_raw_stream"):
        assert internal not in proc.stdout
    assert (
        "embed_triton.py:9: warning: no CUDA device: this TorchInductor-generated file allocates its"
        in proc.stdout
    )
    assert "kernel-eval supplied a compatible grid()" in proc.stdout
