"""`kernel-eval batch SPEC --out results.jsonl`: evaluate many pairs on every local GPU (or a Ray cluster)."""

from __future__ import annotations

import shlex
import signal
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import simple_parsing
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from kernel_eval import arguments, history
from kernel_eval.batch.lanes import Lane, LocalLane, build_cores, local_gpus
from kernel_eval.batch.output import ResultWriter, read_lines
from kernel_eval.batch.runner import Outcome, Runner
from kernel_eval.batch.spec import Pair, SpecError, discover
from kernel_eval.batch.summary import (
    Summary,
    builds_table,
    category,
    problems_table,
    summarize,
    summary_table,
)
from kernel_eval.engine import builds, spawn
from kernel_eval.request import DEFAULT_BUILD_TIMEOUT_S, DEFAULT_TIMEOUT_S, EvalRequest
from kernel_eval.result import EXIT_CANCELLED, SandboxMode


@dataclass
class BatchOptions:
    """Evaluate many (reference, custom) pairs; one JSON result per line in --out, resumable."""

    spec: str = simple_parsing.field(positional=True)  # folder of pairs, KernelBench run folder, or .jsonl
    out: str = "results.jsonl"  # results, one JSON line per pair (pairs already there are skipped)
    force: bool = False  # evaluate every pair again (start --out afresh)
    references: str = ""  # KernelBench: the KernelBench/ folder holding level1/, level2/, ...
    gpus: str = ""  # GPUs to use, e.g. 0,1 (default: every local GPU; none: CPU lanes)
    jobs: int = 1  # CPU lanes when there is no GPU
    build_jobs: int = 0  # build-only processes (default: one per CPU core, less one per lane)
    ray: str = ""  # run on Ray: auto (a running cluster, else a local one) or a cluster address
    measure_performance: bool = True  # time both sides and report the speedup
    num_correct_trials: int = 1  # correctness trials per pair
    num_perf_trials: int = 10  # timed trials per side
    timeout: float = DEFAULT_TIMEOUT_S  # seconds allowed for running one pair's kernels (build excluded)
    build_timeout: float = DEFAULT_BUILD_TIMEOUT_S  # seconds allowed for one pair's build
    pair_timeout: float = 0.0  # wall seconds for one pair in all, build included (0: timeout + build_timeout)
    build_dir_prefix: str = ""  # where builds are cached (default: a per-user 0700 directory)
    quiet: bool = False  # no progress bar
    # confine the custom code: auto (all the host allows), strict (refuse without every protection), off
    sandbox: Literal["auto", "strict", "off"] = "auto"

    def template(self) -> EvalRequest:
        return EvalRequest(
            ref_src="",
            custom_src="",
            measure_performance=self.measure_performance,
            num_correct_trials=self.num_correct_trials,
            num_perf_trials=self.num_perf_trials,
            build_dir_prefix=self.build_dir_prefix,
            timeout_s=self.timeout,
            build_timeout_s=self.build_timeout,
            sandbox=SandboxMode(self.sandbox),
        )


def parse(argv: list[str] | None = None) -> BatchOptions:
    return arguments.parse(BatchOptions, arguments.command("batch"), sys.argv[1:] if argv is None else argv)


def main(argv: list[str]) -> int:
    before = signal.signal(signal.SIGTERM, _interrupt)
    try:
        return run(argv)
    finally:
        signal.signal(signal.SIGTERM, before)


def run(argv: list[str]) -> int:
    options = parse(argv)
    spawn.harden_parent()
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    out = Path(options.out)
    try:
        pairs = discover(
            Path(options.spec), Path(options.references) if options.references else None, options.template()
        )
    except SpecError as problem:
        err.print(f"[red]{problem}[/red]")
        return 2
    done = {} if options.force else read_lines(out)
    todo = [pair for pair in pairs if pair.name not in done]
    if done and todo != pairs:
        err.print(
            f"{len(pairs) - len(todo)} of {len(pairs)} pairs already in {out}: skipped (--force redoes them)"
        )
    started = time.monotonic()
    if todo:
        try:
            run_batch(options, todo, out, err)
        except KeyboardInterrupt:
            err.print(f"interrupted: the finished pairs are in {out}; run the same command again to resume")
            return EXIT_CANCELLED
    lines = read_lines(out)
    summary = summarize({pair.name: lines[pair.name] for pair in pairs if pair.name in lines})
    summary.wall_s = time.monotonic() - started
    console = Console(highlight=False, soft_wrap=True)
    console.print(summary_table(summary, f"kernel-eval batch: {options.spec} ({summary.wall_s:.1f} s)"))
    if summary.builds:
        console.print(builds_table(summary))
    if summary.problems:
        console.print(problems_table(summary))
        console.print(how_to_see_more(summary, out), markup=False)
    return 0 if summary.total == len(pairs) else 1


def how_to_see_more(summary: Summary, out: Path) -> str:
    """Where a pair's whole result is, and the command that shows the first problem as the CLI does."""
    first = summary.problems[0]
    return (
        f"each pair's full result is its line in {out}; to see one as the CLI shows it, e.g. {first.name}:\n"
        f"  kernel-eval --ref-src {shlex.quote(first.ref_file)} --custom-src {shlex.quote(first.custom_file)}"
    )


def _interrupt(signum: int, frame: object) -> None:
    """SIGTERM stops a batch as Ctrl-C does: lanes closed, finished pairs kept, exit 130."""
    raise KeyboardInterrupt


def run_batch(options: BatchOptions, todo: list[Pair], out: Path, err: Console) -> list[Outcome]:
    """Evaluate `todo` on local lanes or Ray actors, appending to `out`, with a progress bar."""
    pair_timeout = options.pair_timeout or options.timeout + options.build_timeout
    writer = ResultWriter(out, options.force)
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        TextColumn("{task.fields[last]}"),
        console=err,
        disable=options.quiet,
    )
    task = progress.add_task("evaluating", total=len(todo), last="")

    def on_done(outcome: Outcome) -> None:
        kind = category(outcome.done.result)
        progress.update(task, advance=1, last=f"{outcome.name}: {kind}")

    lanes: list[Lane]
    if options.ray:
        from kernel_eval.batch import ray_lanes

        cluster = ray_lanes.start(options.ray, options.jobs)
        lanes = list(cluster.lanes)
        on_gpu = cluster.arch.startswith("sm_")

        def prebuild(pair: Pair) -> float | None:
            return cluster.prebuild(pair.name, pair.request, options.build_timeout)

        def home(pair: Pair) -> str:
            return cluster.home(pair.name)

    else:
        home = Runner.anywhere
        devices = local_gpus(options.gpus) or ["cpu"] * max(1, options.jobs)
        local = [LocalLane(device, f"{device}#{index}", len(devices)) for index, device in enumerate(devices)]
        for local_lane in local:
            local_lane.warm_up()
        lanes = list(local)

        # Build processes see no GPU (they build for the lanes' arch), so none of them touches a GPU being timed.
        # The arch is asked of a throwaway process while the lanes start (their first pairs need no build).
        on_gpu = devices[0].startswith("cuda")
        probe = ThreadPoolExecutor(1, thread_name_prefix="kernel-eval-arch")
        asked = probe.submit(builds.gpu_arch, devices[0]) if on_gpu else None
        probe.shutdown(wait=False)  # the answer still comes

        def prebuild(pair: Pair) -> float | None:
            return builds.prebuild(pair.request, options.build_timeout, asked.result() if asked else "cpu")

    # Every core builds, less one per lane: the lanes' own processes launch kernels and read clocks.
    build_jobs = options.build_jobs or build_cores(len(lanes))
    runner = Runner(
        lanes,
        writer,
        prebuild=prebuild,
        needs_prebuild=lambda pair: builds.needs_prebuild(pair.request.custom_src, on_gpu),
        build_jobs=build_jobs,
        pair_timeout_s=pair_timeout,
        on_done=on_done,
        record_history=history.enabled(),
        home=home,
    )
    try:
        with progress:
            return runner.run(todo)
    finally:
        for lane in lanes:
            lane.close()  # first: an interrupted lane's evaluation ends (its workers are killed) before the file closes
        writer.close()
        if options.ray:
            import ray

            ray.shutdown()
