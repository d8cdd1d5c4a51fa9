"""Kernels per hour: `kernel-eval batch` on 1 GPU and on 2 GPUs vs a loop of one CLI process per pair.

    python benchmarks/batch_throughput.py [--cuda_pairs 1] [--gpus 0,1] [--loop_limit_s 240]

Generates 22 small KernelBench-style pairs (elementwise, row reductions, matmuls; Triton and plain PyTorch) plus
--cuda_pairs load_inline CUDA pairs on a GPU machine (default 1; each a real nvcc build, which the batch builds on
every core while the GPUs evaluate). The loop stops after --loop_limit_s (its rate is over the pairs it did), so the
whole run stays under ~8 minutes on a GPU machine. Every mode starts from an empty build cache of its own, all time
both sides (10 trials), and history is off. Besides the wall time (worker start included), each batch mode's steady
rate is given, from its first result to its last. On a CPU-only machine: one CPU lane vs the loop (Triton runs in
the interpreter).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import simple_parsing
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from batch_pairs import write_pairs  # noqa: E402


@dataclass
class Options:
    cuda_pairs: int = -1  # load_inline CUDA pairs to add (-1: 1 with a GPU, 0 without)
    gpus: str = ""  # GPUs for the multi-GPU run (default: 0,1 when there are two or more)
    loop: bool = True  # also time the loop of one CLI process per pair
    loop_limit_s: float = 240.0  # stop the loop after this long; its rate is then taken over the pairs it did
    num_perf_trials: int = 10
    copies: int = 1  # each pair this many times, each copy in its own folder (built and compiled afresh)
    api: bool = True  # also the Python API's async form (kernel_eval.Session) on the multi-GPU run's devices
    inner_api: str = ""  # (internal) run the API over --inner_pairs on these devices, print JSON
    inner_pairs: str = ""


def gpu_count() -> int:
    probe = "import torch; print(torch.cuda.device_count())"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=False)
    return int(done.stdout.strip() or 0)


def environment(prefix: Path) -> dict[str, str]:
    env = dict(os.environ, KERNEL_EVAL_HISTORY="0")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT / "daemon"), env.get("PYTHONPATH", "")) if p)
    prefix.mkdir(parents=True)
    return env


def run_batch(
    pairs: Path, work: Path, label: str, lanes: list[str], trials: int
) -> tuple[float, dict[str, str], float]:
    """Seconds for one `kernel-eval batch` process over every pair; name -> verdict; the steady rate in pairs per
    second, from the first result to the last (the start of the workers left out)."""
    out = work / f"{label}.jsonl"
    prefix = work / f"builds-{label}"
    command = [sys.executable, "-m", "kernel_eval.launch", "batch", str(pairs), "--out", str(out), "--force"]
    command += [*lanes, "--build-dir-prefix", str(prefix), "--num-perf-trials", str(trials), "--quiet"]
    started = time.perf_counter()
    subprocess.run(command, env=environment(prefix), stdout=subprocess.DEVNULL, check=False)
    seconds = time.perf_counter() - started
    verdicts = {}
    phases: dict[str, float] = {}
    finished = []
    for line in out.read_text().splitlines():
        data = json.loads(line)
        verdicts[data["name"]] = data["verdict"]
        finished.append(data["batch"]["at_s"])
        for phase, spent in [*data.get("phase_s", {}).items(), ("pair", data["batch"]["wall_s"])]:
            phases[phase] = phases.get(phase, 0.0) + spent
    if verdicts:  # where a lane's time goes: "load" includes waiting for a warm candidate
        spent = " · ".join(f"{phase} {total / len(verdicts):.2f} s" for phase, total in phases.items())
        print(f"{label}: mean per pair: {spent}", flush=True)
    steady = (len(finished) - 1) / (max(finished) - min(finished)) if len(finished) > 1 else 0.0
    return seconds, verdicts, steady


def run_loop(
    pairs: Path, work: Path, device: str, trials: int, limit_s: float
) -> tuple[float, dict[str, str], float]:
    """Seconds for one `kernel-eval REF CUSTOM` process per pair, one after another (until `limit_s`);
    name -> verdict of the pairs it did."""
    prefix = work / "builds-loop"
    env = environment(prefix)
    verdicts = {}
    started = time.perf_counter()
    for folder in sorted(p for p in pairs.iterdir() if p.is_dir()):
        if time.perf_counter() - started > limit_s:
            break
        command = [sys.executable, "-m", "kernel_eval.cli", "--ref_src", str(folder / "ref.py")]
        command += ["--custom_src", str(folder / "custom.py")]
        command += ["--device", device, "--measure_performance", "--num_perf_trials", str(trials)]
        command += ["--build_dir_prefix", str(prefix), "--json"]
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        verdicts[folder.name] = json.loads(done.stdout)["verdict"] if done.stdout.strip() else "error"
    seconds = time.perf_counter() - started
    return seconds, verdicts, len(verdicts) / seconds  # every pair pays its process's start: no steadier rate


def run_api(pairs: Path, work: Path, devices: list[str], trials: int) -> tuple[float, dict[str, str], float]:
    """As run_batch, through `Session.evaluate_async` in a process of its own (its start included)."""
    prefix = work / "builds-api"
    command = [sys.executable, __file__, "--inner_api", ",".join(devices), "--inner_pairs", str(pairs)]
    command += ["--num_perf_trials", str(trials)]
    env = dict(environment(prefix), KERNEL_EVAL_BENCH_PREFIX=str(prefix))
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        print(f"API run failed:\n{done.stderr[-3000:]}")
        return seconds, {}, 0.0
    data = json.loads(done.stdout.strip().splitlines()[-1])
    finished = data["at_s"]
    steady = (len(finished) - 1) / (max(finished) - min(finished)) if len(finished) > 1 else 0.0
    return seconds, data["verdicts"], steady


def inner_api(devices: list[str], pairs: Path, trials: int, prefix: str) -> None:
    import asyncio

    from kernel_eval import Session

    folders = sorted(p for p in pairs.iterdir() if p.is_dir())

    async def evaluate_all(session: Session) -> dict[str, object]:
        started = time.perf_counter()
        finished: list[float] = []

        async def one(folder: Path) -> tuple[str, str]:
            result = await session.evaluate_async(
                folder / "ref.py", folder / "custom.py", measure_performance=True, num_perf_trials=trials,
                build_dir_prefix=prefix,
            )  # fmt: skip
            finished.append(time.perf_counter() - started)
            return folder.name, result.verdict.value

        verdicts = dict(await asyncio.gather(*(one(folder) for folder in folders)))
        return {"verdicts": verdicts, "at_s": finished}

    with Session(devices) as session:
        print(json.dumps(asyncio.run(evaluate_all(session))))


def main() -> None:
    options = simple_parsing.parse(Options)
    if options.inner_api:
        prefix = os.environ.get("KERNEL_EVAL_BENCH_PREFIX", "")
        inner_api(options.inner_api.split(","), Path(options.inner_pairs), options.num_perf_trials, prefix)
        return
    gpus = gpu_count()
    cuda_pairs = options.cuda_pairs if options.cuda_pairs >= 0 else (1 if gpus else 0)
    work = Path(tempfile.mkdtemp(prefix="kernel-eval-batch-bench-"))
    pairs = work / "pairs"
    names = write_pairs(pairs, cuda_pairs, options.copies)
    console = Console(highlight=False, width=max(120, Console().width))
    console.print(f"{len(names)} pairs in {pairs}; {gpus} GPU(s), {os.cpu_count()} CPU cores")

    modes: list[tuple[str, float, dict[str, str], float]] = []

    def done(label: str, seconds: float, verdicts: dict[str, str], steady: float) -> None:
        """Each mode's line as soon as it is done, so a run cut short keeps what it measured."""
        modes.append((label, seconds, verdicts, steady))
        rate = len(verdicts) / seconds * 3600
        console.print(
            f"{label}: {len(verdicts)} pairs in {seconds:.1f} s ({rate:,.0f} kernels/hour; "
            f"steady {steady * 3600:,.0f}/hour)"
        )

    if gpus:
        done("batch, 1 GPU", *run_batch(pairs, work, "gpu1", ["--gpus", "0"], options.num_perf_trials))
        multi = options.gpus or ("0,1" if gpus >= 2 else "")
        if multi:
            lanes = ["--gpus", multi]
            done(f"batch, GPUs {multi}", *run_batch(pairs, work, "gpus", lanes, options.num_perf_trials))
        if options.api:
            devices = [f"cuda:{index}" for index in (multi or "0").split(",")]
            done(f"API async, {', '.join(devices)}", *run_api(pairs, work, devices, options.num_perf_trials))
    else:
        done("batch, 1 CPU lane", *run_batch(pairs, work, "cpu1", ["--jobs", "1"], options.num_perf_trials))
        if options.api:
            done("API async, cpu", *run_api(pairs, work, ["cpu"], options.num_perf_trials))
    if options.loop:
        device = "cuda:0" if gpus else "cpu"
        looped = run_loop(pairs, work, device, options.num_perf_trials, options.loop_limit_s)
        done(f"loop of CLI processes ({device})", *looped)

    table = Table(title=f"kernel-eval batch throughput ({len(names)} pairs)")
    columns = (
        "mode",
        "pairs",
        "wall",
        "kernels / hour",
        "vs loop",
        "steady / hour",
        "vs loop",
        "correct",
        "error",
    )
    for column in columns:
        table.add_column(column, justify="left" if column == "mode" else "right")
    loop_rate = len(modes[-1][2]) / modes[-1][1] if options.loop else None
    for label, seconds, verdicts, steady in modes:
        values = list(verdicts.values())
        rate = len(verdicts) / seconds
        table.add_row(
            label,
            str(len(verdicts)),
            f"{seconds:.1f} s",
            f"{rate * 3600:,.0f}",
            f"{rate / loop_rate:.1f}×" if loop_rate else "",
            f"{steady * 3600:,.0f}",
            f"{steady / loop_rate:.1f}×" if loop_rate else "",
            str(values.count("correct")),
            str(values.count("error")),
        )
    console.print(table)
    console.print(f"results and build caches under {work}")


if __name__ == "__main__":
    main()
