"""`kernel-eval history [FILE]`: verdict and speedup over time, per custom file (a rich table)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from itertools import groupby
from pathlib import Path

import simple_parsing
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from kernel_eval import arguments, history

_STYLE = {"correct": "green", "incorrect": "red", "error": "yellow", "flagged": "magenta"}


@dataclass
class HistoryOptions:
    """Show the evaluation history: verdict and speedup over time, per custom file."""

    file: str = simple_parsing.field(default="", positional=True, nargs="?")  # one custom file (default: all)
    limit: int = 50  # show at most this many of the latest evaluations
    db: str = ""  # the history database (default: $XDG_DATA_HOME/kernel-eval/history.sqlite)


def main(argv: list[str]) -> int:
    options = arguments.parse(HistoryOptions, arguments.command("history"), argv)
    console = Console(highlight=False, soft_wrap=True)
    path = Path(options.db) if options.db else history.default_path()
    found = history.entries(options.file or None, options.limit, path)
    if not found:
        console.print(f"no evaluations recorded in {path}" + (f" for {options.file}" if options.file else ""))
        return 0
    for custom_file, rows in groupby(
        sorted(found, key=lambda e: (e.custom_file, e.id)), key=lambda e: e.custom_file
    ):
        console.print(history_table(custom_file, list(rows)))
    return 0


def history_table(custom_file: str, rows: list[history.Entry]) -> Table:
    table = Table(title=custom_file, title_justify="left")
    for column in ("when", "verdict", "speedup", "change", "device", "from", "reason"):
        table.add_column(
            column, justify="right" if column in ("speedup", "change") else "left", overflow="fold"
        )
    last: float | None = None
    for entry in rows:
        verdict = "flagged" if entry.flagged else entry.verdict
        speedup = entry.figure if entry.speedup is not None and verdict == "correct" else ""
        change = ""
        if speedup and last:
            change = f"{((entry.speedup or 0) / last - 1):+.0%}"
        if speedup:
            last = entry.speedup
        table.add_row(
            time.strftime("%Y-%m-%d %H:%M", time.localtime(entry.at)),
            f"[{_STYLE.get(verdict, '')}]{verdict}[/]",
            speedup,
            change,
            entry.device,
            entry.origin,
            "" if verdict == "correct" else escape(entry.headline.split(" — ", 1)[-1]),
        )
    return table
