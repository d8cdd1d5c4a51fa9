"""The end-of-batch summary: verdict counts, geometric-mean speedup, slowest builds (and its rich tables)."""

from __future__ import annotations

import math
from typing import Any

import attrs
from rich.table import Table

from kernel_eval.result import EvalResult, Verdict, format_speedup


@attrs.define
class Summary:
    correct: int = 0
    incorrect: int = 0
    flagged: int = 0  # correct outputs, but a blocking flag (a cheat, a vacuous check) voids the verdict
    error: int = 0
    speedups: list[float] = attrs.Factory(list)  # of the correct, unflagged, timed pairs
    builds: list[tuple[float, str]] = attrs.Factory(list)  # (seconds, name)
    wall_s: float = 0.0

    @property
    def total(self) -> int:
        return self.correct + self.incorrect + self.flagged + self.error

    @property
    def geomean_speedup(self) -> float | None:
        if not self.speedups:
            return None
        return math.exp(sum(math.log(s) for s in self.speedups) / len(self.speedups))

    def slowest_builds(self, count: int = 5) -> list[tuple[float, str]]:
        return sorted(self.builds, reverse=True)[:count]


def category(result: EvalResult) -> str:
    """correct / incorrect / flagged / error: what the summary counts the result as."""
    if result.verdict is Verdict.CORRECT:
        return "flagged" if result.blocking_flags else "correct"
    return result.verdict.value


def summarize(lines: dict[str, dict[str, Any]]) -> Summary:
    """The summary of JSONL lines (name -> the line's data, as output.read_lines returns)."""
    summary = Summary()
    for name, data in lines.items():
        result = EvalResult.from_dict(data)
        kind = category(result)
        setattr(summary, kind, getattr(summary, kind) + 1)
        if kind == "correct" and result.timing is not None and result.timing.speedup > 0:
            summary.speedups.append(result.timing.speedup)
        extra = data.get("batch") or {}
        if extra.get("build_s"):
            summary.builds.append((float(extra["build_s"]), name))
    return summary


def summary_table(summary: Summary, title: str = "kernel-eval batch") -> Table:
    table = Table(title=title, title_justify="left")
    for column in ("correct", "incorrect", "flagged", "error", "total", "geomean speedup"):
        table.add_column(column, justify="right")
    geomean = summary.geomean_speedup
    table.add_row(
        f"[green]{summary.correct}[/]",
        f"[red]{summary.incorrect}[/]",
        f"[magenta]{summary.flagged}[/]",
        f"[yellow]{summary.error}[/]",
        str(summary.total),
        f"{format_speedup(geomean)} over {len(summary.speedups)}" if geomean else "—",
    )
    return table


def builds_table(summary: Summary, count: int = 5) -> Table:
    table = Table(title="slowest builds", title_justify="left")
    table.add_column("pair")
    table.add_column("build", justify="right")
    for seconds, name in summary.slowest_builds(count):
        table.add_row(name, f"{seconds:.1f} s")
    return table
