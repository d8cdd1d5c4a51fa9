"""Command-line parsing shared by `kernel-eval`, `kernel-eval batch` and `kernel-eval history`: one flag style
(`--measure-performance`, and the seed's `--measure_performance` still works), help that states each default
once."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import simple_parsing
from simple_parsing.help_formatter import SimpleHelpFormatter


class HelpFormatter(SimpleHelpFormatter):
    """simple_parsing's formatter, without a "(default: …)" where the help already tells it or it says nothing
    (an empty string, None)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if "default" in text or action.default in (None, "", argparse.SUPPRESS) or action.required:
            return text
        return super()._get_help_string(action)


def command(subcommand: str = "") -> str:
    """How the user ran us (kernel-eval, run_and_check.py), for --help's usage line."""
    name = Path(sys.argv[0]).name or "kernel-eval"
    return f"{name} {subcommand}" if subcommand else name


def dashed(argv: list[str]) -> list[str]:
    """`--foo_bar` and `--foo_bar=x` as `--foo-bar` (values are left as they are)."""
    spelled = []
    for arg in argv:
        if arg.startswith("--"):
            name, equals, value = arg.partition("=")
            arg = name.replace("_", "-") + equals + value
        spelled.append(arg)
    return spelled


def parse(options: Any, prog: str, argv: list[str]) -> Any:
    """An instance of the dataclass `options` from `argv`."""
    parser = simple_parsing.ArgumentParser(
        prog=prog,
        add_option_string_dash_variants=simple_parsing.DashVariant.DASH,
        add_dest_to_option_strings=False,
        description=options.__doc__,
        formatter_class=HelpFormatter,
    )
    parser.add_arguments(options, dest="options")
    return parser.parse_args(dashed(argv)).options
