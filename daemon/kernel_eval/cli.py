"""`python scripts/run_and_check.py` / `kernel-eval`: evaluate one custom kernel file against its reference."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import sys
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TextIO

import attrs
from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.spinner import Spinner

from kernel_eval import arguments, history, preflight, source_info
from kernel_eval.engine import spawn
from kernel_eval.kinds import MessageKind
from kernel_eval.progress import ProgressEvent
from kernel_eval.render import render_result
from kernel_eval.request import DEFAULT_BUILD_TIMEOUT_S, DEFAULT_TIMEOUT_S, EvalRequest, options_for
from kernel_eval.result import EvalResult, Location, Message, Phase, Severity, Verdict
from kernel_eval.server import client, thin_client


@dataclass
class Options:
    """Check a custom kernel (ModelNew) against a reference model (Model), and time both."""

    custom_src: str  # path to the custom file (defines ModelNew)
    # path to the reference file (defines Model, get_inputs, get_init_inputs); default: found as the editor finds
    # it (a `# kernel-eval: ref=...` comment, pyproject.toml, or model_new_X.py -> model_X.py)
    ref_src: str = ""
    ref_entry_point: str = "Model"  # class to use in the reference file
    custom_entry_point: str = "ModelNew"  # class to use in the custom file
    device: str = "cuda:0"  # cuda:N, or cpu (the default falls back to cpu when CUDA is absent)
    verbose: bool = False  # show progress, build output and what the code printed
    measure_performance: bool = False  # time both sides and report the speedup
    num_correct_trials: int = 1  # correctness trials (at least 2 run, plus 1 on a secret seed)
    num_perf_trials: int = 10  # the fewest timed samples per side (sampling is adaptive; at least 10)
    build_dir_prefix: str = ""  # where builds are cached (default: a per-user 0700 directory)
    clear_cache: bool = False  # rebuild from scratch: remove this file's cached build first
    json: bool = False  # print one machine-readable result on stdout, nothing else
    timeout: float = DEFAULT_TIMEOUT_S  # seconds allowed for running the kernels (the build is not counted)
    build_timeout: float = DEFAULT_BUILD_TIMEOUT_S  # seconds allowed for loading and building
    atol: float | None = None  # absolute tolerance (unset: the float64 rule of the README, else per dtype)
    rtol: float | None = None  # relative tolerance (default per dtype, as atol)
    # confine the custom code: auto (all the host allows), strict (refuse without every protection), off
    sandbox: Literal["auto", "strict", "off"] = "auto"
    # evaluate in this process, not on the warm per-user server (also: KERNEL_EVAL_NO_SERVER=1)
    no_server: bool = False

    def to_request(self) -> EvalRequest:
        return EvalRequest(
            **{field.name: getattr(self, option) for option, field in options_for("cli").items()}
        )


def parse(argv: list[str] | None = None) -> Options:
    return arguments.parse(Options, arguments.command(), sys.argv[1:] if argv is None else argv)


def with_found_reference(options: Options, cwd: Path) -> Options:
    """Options whose ref_src (and entry points left at their defaults) come from the reference rules, with `cwd`
    as the workspace."""
    from kernel_eval import references

    custom = Path(options.custom_src)
    match = references.find_reference(custom, source_info.read_text(custom), workspace_root=cwd)
    if match is None:
        raise references.ReferenceProblem(
            f"no reference found for {custom.name}: pass --ref_src, or {references.HOW_TO_CONFIGURE}"
        )
    defaults = Options(custom_src="")
    return dataclasses.replace(
        options,
        ref_src=str(match.ref_path),
        ref_entry_point=match.ref_entry_point
        if options.ref_entry_point == defaults.ref_entry_point
        else options.ref_entry_point,
        custom_entry_point=match.custom_entry_point
        if options.custom_entry_point == defaults.custom_entry_point
        else options.custom_entry_point,
    )


@dataclass
class Refusal:
    """Why an evaluation cannot start: the messages of a rejected result, and for a reference that cannot be
    found, the one line text output prints instead (exit 2)."""

    messages: list[Message]
    line: str = ""


def main(argv: list[str] | None = None) -> int:
    options = parse(argv)
    spawn.harden_parent()
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    settled = settle(options, Path.cwd())
    if isinstance(settled, Refusal):
        if (
            settled.line and not options.json
        ):  # a script reading stdout gets one result to parse, as for any other error
            err.print(settled.line, markup=False)
            return 2
        return report(preflight.rejected(options.to_request(), settled.messages), options)
    return finish(evaluate(settled, err), settled, err)


def settle(options: Options, cwd: Path) -> Options | Refusal:
    """The options to evaluate with: the files and device checked, the reference found when none is given (with
    `cwd` as the workspace); or why not."""
    checked = [preflight.check_file(options.custom_src, "custom"), preflight.check_device(options.device)]
    problems = [message for message in checked if message is not None]
    if problems:
        return Refusal(problems)
    if not options.ref_src:
        from kernel_eval import references

        try:
            options = with_found_reference(options, cwd)
        except references.ReferenceProblem as problem:
            where = Location(str(Path(options.custom_src).resolve()), problem.line or 1)
            message = Message(Severity.ERROR, Phase.LOAD, MessageKind.NO_REFERENCE, str(problem), where)
            return Refusal([message], f"{options.custom_src}:{problem.line or 1}: error: {problem}")
    # here, not on the server: its paths are made absolute, and relative ones start at this process's folder
    reference_problem = preflight.check_file(options.ref_src, "reference")
    return Refusal([reference_problem]) if reference_problem is not None else options


def finish(
    result: EvalResult,
    options: Options,
    err: Console,
    stdout: TextIO | None = None,
    env: Mapping[str, str] = os.environ,
) -> int:
    """Record `result` in the history `env` names, print it as `options` ask (on `stdout`, with `env`'s terminal
    settings) and return the exit status."""
    if is_cancelled(result):
        err.print("interrupted: evaluation cancelled", markup=False)
    else:
        history.record(result, "cli", env=env)
    return report(result, options, stdout, env)


def evaluate(options: Options, err: Console) -> EvalResult:
    """The evaluation, on this user's warm server or else in workers of its own. Ctrl-C or SIGTERM make it a
    cancelled one."""
    cancel = threading.Event()
    request = options.to_request()
    progress = Progress(err, options)
    try:
        with stopped_by_signals(cancel), progress:
            if uses_server(options):
                served = client.evaluate(absolute(request), progress.show, cancel, say=progress.note)
                if served is not None:
                    return served
                if cancel.is_set():
                    return cancelled(request)
            # only here: a call the server answers never loads the engine
            from kernel_eval.engine.pool import WorkerPool

            with WorkerPool(spares=0) as pool:
                return pool.evaluate(request, on_progress=progress.show, cancel=cancel)
    except KeyboardInterrupt:  # a second Ctrl-C: the workers are stopped (the server's: by the closed socket)
        return cancelled(request)


def uses_server(options: Options) -> bool:
    """The server unless told not to. Under --sandbox off the workers get the caller's whole environment, which
    a server started from another shell would not have: those evaluations run here."""
    return not (options.no_server or thin_client.disabled_by_env() or options.sandbox == "off")


def absolute(request: EvalRequest) -> EvalRequest:
    """The request as a process with another working directory reads it."""
    prefix = request.build_dir_prefix
    return attrs.evolve(
        request,
        ref_src=str(Path(request.ref_src).resolve()),
        custom_src=str(Path(request.custom_src).resolve()),
        build_dir_prefix=str(Path(prefix).resolve()) if prefix else "",
    )


def cancelled(request: EvalRequest) -> EvalResult:
    from kernel_eval.engine import failures

    return preflight.rejected(request, [failures.cancelled(Phase.LOAD)], Verdict.CANCELLED)


class Progress:
    """Where the evaluation is: every event on stderr with --verbose. Else, in a terminal, one line that changes
    in place and is gone once the result prints (nothing under --json or when stderr is not a terminal)."""

    def __init__(self, err: Console, options: Options) -> None:
        self.err, self.verbose = err, options.verbose and not options.json
        self.wordy = options.verbose
        live = err.is_terminal and not options.verbose and not options.json
        self.spinner = Spinner("dots", "starting workers", style="status.spinner")
        # repainted on every event too, so a phase that passes between two spinner frames is still shown
        self.live = Live(self.spinner, console=err, transient=True, refresh_per_second=12.5) if live else None

    def __enter__(self) -> Progress:
        if self.live is not None:
            self.live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live is not None:
            self.live.stop()

    def note(self, text: str) -> None:
        """A remark about how the evaluation runs (the server's), under --verbose only, on stderr."""
        if self.wordy:
            self.err.print(f"[dim]{escape(text)}[/dim]")

    def show(self, event: ProgressEvent) -> None:
        if self.verbose:
            self.err.print(f"[dim]{event.phase.value:>5} · {escape(event.message)}[/dim]")
        elif self.live is not None:
            self.spinner.update(text=f"{event.phase.value} · {escape(event.message[:70])}")
            self.live.refresh()


@contextlib.contextmanager
def stopped_by_signals(cancel: threading.Event) -> Iterator[None]:
    """Ctrl-C and SIGTERM cancel the evaluation (its workers are stopped and a result is still printed). A
    second Ctrl-C stops waiting. The handlers before are put back after."""

    def on_signal(signum: int, frame: object) -> None:
        cancel.set()
        signal.signal(signal.SIGINT, signal.default_int_handler)

    before = {signum: signal.signal(signum, on_signal) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in before.items():
            signal.signal(signum, handler)


def is_cancelled(result: EvalResult) -> bool:
    return result.verdict is Verdict.CANCELLED


def report(
    result: EvalResult, options: Options, stdout: TextIO | None = None, env: Mapping[str, str] | None = None
) -> int:
    """Print `result` (one JSON object under --json) on `stdout` and return the exit status."""
    stdout = stdout or sys.stdout
    if options.json:
        stdout.write(result.to_json() + "\n")
    else:
        console = Console(file=stdout, highlight=False, soft_wrap=True, _environ=env)
        render_result(result, console, verbose=options.verbose)
    return result.exit_code if result.verdict in Verdict else 2


if __name__ == "__main__":
    sys.exit(main())
