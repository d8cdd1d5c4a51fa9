"""`python scripts/run_and_check.py` / `kernel-eval`: evaluate one custom kernel file against its reference."""

from __future__ import annotations

import sys
from dataclasses import dataclass

import simple_parsing
from rich.console import Console

from kernel_eval import history
from kernel_eval.engine.pool import WorkerPool
from kernel_eval.progress import ProgressEvent
from kernel_eval.render import render_result
from kernel_eval.request import DEFAULT_TIMEOUT_S, EvalRequest
from kernel_eval.result import Verdict


@dataclass
class Options:
    """Check a custom kernel (ModelNew) against a reference model (Model), and time both."""

    ref_src: str  # path to the reference file (defines Model, get_inputs, get_init_inputs)
    custom_src: str  # path to the custom file (defines ModelNew)
    ref_entry_point: str = "Model"  # class to use in the reference file
    custom_entry_point: str = "ModelNew"  # class to use in the custom file
    device: str = "cuda:0"  # cuda:N, or cpu (the default falls back to cpu when CUDA is absent)
    verbose: bool = False  # show progress, build output and what the code printed
    measure_performance: bool = False  # time both sides and report the speedup
    num_correct_trials: int = 1  # correctness trials, each with fresh inputs from its own seed
    num_perf_trials: int = 10  # timed trials per side (at least 10 are used for a speedup)
    build_dir_prefix: str = ""  # where builds are cached (default: a per-user 0700 directory)
    clear_cache: bool = False  # rebuild from scratch: remove this file's cached build first
    json: bool = False  # print one machine-readable result on stdout, nothing else
    timeout: float = DEFAULT_TIMEOUT_S  # seconds allowed for running the kernels (the build is not counted)
    atol: float | None = None  # absolute tolerance (default per dtype: fp32 1e-4, fp16/bf16 1e-2)
    rtol: float | None = None  # relative tolerance (default per dtype, as atol)

    def to_request(self) -> EvalRequest:
        return EvalRequest(
            ref_src=self.ref_src,
            custom_src=self.custom_src,
            ref_entry_point=self.ref_entry_point,
            custom_entry_point=self.custom_entry_point,
            device=self.device,
            measure_performance=self.measure_performance,
            num_correct_trials=self.num_correct_trials,
            num_perf_trials=self.num_perf_trials,
            atol=self.atol,
            rtol=self.rtol,
            build_dir_prefix=self.build_dir_prefix,
            clear_cache=self.clear_cache,
            timeout_s=self.timeout,
            verbose=self.verbose,
        )


def parse(argv: list[str] | None = None) -> Options:
    parser = simple_parsing.ArgumentParser(
        prog="run_and_check.py",
        add_option_string_dash_variants=simple_parsing.DashVariant.UNDERSCORE_AND_DASH,
        add_dest_to_option_strings=False,
        description=Options.__doc__,
    )
    parser.add_arguments(Options, dest="options")
    options: Options = parser.parse_args(argv).options
    return options


SUBCOMMANDS = ("batch", "history")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in SUBCOMMANDS:
        return subcommand(argv[0], argv[1:])
    options = parse(argv)
    err = Console(stderr=True, highlight=False, soft_wrap=True)

    def show_progress(event: ProgressEvent) -> None:
        if options.verbose and not options.json:
            err.print(f"[dim]{event.phase.value:>5} · {event.message}[/dim]")

    with WorkerPool(spare=False) as pool:
        result = pool.evaluate(options.to_request(), on_progress=show_progress)
    history.record(result, "cli")
    if options.json:
        sys.stdout.write(result.to_json() + "\n")
    else:
        render_result(result, Console(highlight=False, soft_wrap=True), verbose=options.verbose)
    return result.exit_code if result.verdict in Verdict else 2


def subcommand(name: str, argv: list[str]) -> int:
    """`kernel-eval batch ...` and `kernel-eval history ...` (imported only when asked for)."""
    if name == "batch":
        from kernel_eval.batch.cli import main as batch_main

        return batch_main(argv)
    from kernel_eval.history_cli import main as history_main

    return history_main(argv)


if __name__ == "__main__":
    sys.exit(main())
