"""The end-of-batch summary: verdict counts, geometric-mean speedup, slowest builds (and its rich tables)."""

from __future__ import annotations

import math
import statistics
from typing import Any

import attrs
from rich.markup import escape
from rich.table import Table

from kernel_eval.result import EvalResult, Verdict, speed_words


@attrs.define
class Problem:
    """A pair that did not come out correct, and why in one line."""

    name: str
    kind: str
    """incorrect, flagged or error."""
    reason: str
    where: str = ""
    """file:line when the result points at one."""
    ref_file: str = ""
    custom_file: str = ""


@attrs.define
class Summary:
    correct: int = 0
    incorrect: int = 0
    flagged: int = 0
    """Correct outputs, but a blocking flag (a cheat, a vacuous check) voids the verdict."""
    error: int = 0
    speedups: list[float] = attrs.Factory(list)
    """Of the correct, unflagged, timed pairs."""
    left_out: int = 0
    """Timed pairs whose speedup is not averaged: flagged (a cheat, a time below the physical floor, ...)."""
    builds: list[tuple[float, str]] = attrs.Factory(list)
    """(seconds, name)."""
    problems: list[Problem] = attrs.Factory(list)
    """The pairs not correct, in the order of the results."""
    meaningful: bool = True
    """False when a speedup counted was timed on the CPU."""
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
    if result.verdict is Verdict.CANCELLED:  # batches write no cancelled pair: one from elsewhere is an error
        return "error"
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
            summary.meaningful = summary.meaningful and result.timing.meaningful
        elif kind == "flagged" and result.timing is not None:
            summary.left_out += 1
        if kind != "correct":
            summary.problems.append(problem(name, kind, result))
        extra = data.get("batch") or {}
        if extra.get("build_s"):
            summary.builds.append((float(extra["build_s"]), name))
    return summary


def problem(name: str, kind: str, result: EvalResult) -> Problem:
    """Why `result` is not correct, in one line, and where when it says."""
    reason = result.headline.split(" — ", 1)[-1]  # the verdict is in its own column
    located = next((m.location for m in result.errors if m.location is not None), None)
    where = f"{located.file}:{located.line}" if located is not None and located.line else ""
    return Problem(name, kind, reason, where, result.ref.file, result.custom.file)


def summary_table(summary: Summary, title: str = "kernel-eval batch") -> Table:
    table = Table(title=title, title_justify="left")
    for column in ("correct", "incorrect", "flagged", "error", "total", "geomean speedup"):
        table.add_column(column, justify="right")
    table.add_row(
        f"[green]{summary.correct}[/]",
        f"[red]{summary.incorrect}[/]",
        f"[magenta]{summary.flagged}[/]",
        f"[yellow]{summary.error}[/]",
        str(summary.total),
        _geomean_text(summary),
    )
    return table


def _geomean_text(summary: Summary) -> str:
    geomean = summary.geomean_speedup
    if geomean is None:
        return "—"
    caveat = "" if summary.meaningful else " (CPU timing: not meaningful)"
    text = f"{speed_words(geomean)} over {len(summary.speedups)}{caveat}"
    if len(summary.speedups) > 1:
        text += f"; median {speed_words(statistics.median(summary.speedups))}"
    if summary.left_out:
        text += f"; {summary.left_out} flagged left out"
    return text


def problems_table(summary: Summary) -> Table:
    """One row per pair that is not correct: its name, what it came out as, and the one-line reason."""
    table = Table(title="not correct", title_justify="left")
    for column in ("pair", "verdict", "reason"):
        table.add_column(column, overflow="fold")
    for found in summary.problems:
        reason = escape(found.reason) + (f"\n[dim]at {escape(found.where)}[/]" if found.where else "")
        table.add_row(escape(found.name), f"[{_KIND_STYLE[found.kind]}]{found.kind}[/]", reason)
    return table


_KIND_STYLE = {"incorrect": "red", "flagged": "magenta", "error": "yellow"}


def builds_table(summary: Summary, count: int = 5) -> Table:
    table = Table(title="slowest builds", title_justify="left")
    table.add_column("pair")
    table.add_column("build", justify="right")
    for seconds, name in summary.slowest_builds(count):
        table.add_row(name, f"{seconds:.1f} s")
    return table
