"""The server's side of a CLI call forwarded whole (server/thin_client.py): parsed and checked here as the CLI does
it, and once evaluated, printed as the CLI would print it. What the CLI would refuse, or would draw live, is left to
the CLI: it then runs the call itself and says what it says."""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path

from rich.console import Console

from kernel_eval import cli
from kernel_eval.result import EvalResult
from kernel_eval.server import wire


def prepare(forward: wire.Forward) -> cli.Options | str:
    """The call's options, their paths absolute and its reference found; or why the CLI should run it."""
    try:
        options = cli.parse(forward.argv)
    except SystemExit:  # --help, or arguments that do not parse: the CLI prints it
        return "arguments the CLI answers itself"
    if options.verbose or options.no_server or options.sandbox == "off":
        return "--verbose, --no-server or --sandbox off"
    if forward.stderr_is_terminal and not options.json:
        return "a terminal to draw progress on"
    settled = cli.settle(rooted(options, Path(forward.cwd)), Path(forward.cwd))
    return "refused before evaluating" if isinstance(settled, cli.Refusal) else settled


def rooted(options: cli.Options, cwd: Path) -> cli.Options:
    """`options` with each path as the caller, in `cwd`, means it."""

    def absolute(path: str) -> str:
        return str((cwd / path).resolve()) if path else path

    return dataclasses.replace(
        options,
        custom_src=absolute(options.custom_src),
        ref_src=absolute(options.ref_src),
        build_dir_prefix=absolute(options.build_dir_prefix),
    )


def printed(forward: wire.Forward, options: cli.Options, result: EvalResult) -> wire.Printed:
    """What the CLI prints for `result`, with the caller's history and terminal settings."""
    stdout, stderr = io.StringIO(), io.StringIO()
    err = Console(file=stderr, highlight=False, soft_wrap=True, _environ=forward.env)
    code = cli.finish(result, options, err, stdout, forward.env)
    return wire.Printed(forward.id, stdout.getvalue(), stderr.getvalue(), code)
