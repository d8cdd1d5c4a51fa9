"""What the sandbox costs, on and off in one run (issue 18's targets: warm re-evaluation at most 5 ms more,
starting a confined candidate at most 100 ms more).

    python benchmarks/sandbox_cost.py [--repeats 20] [--starts 6]

- warm re-evaluation: two pools, one `--sandbox auto` and one `--sandbox off`, evaluating the same unchanged pair
  alternately (CUDA add on a GPU, the Triton example on the CPU);
- candidate start: a fresh candidate from spawn to its hello (torch imported, CUDA ready), alternately confined or
  not;
- confining: the two Landlock layers as a worker applies them (at start, and to its file before importing it),
  timed inside a fresh process.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import simple_parsing

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "daemon"))

from warm_vs_cold import pair_and_device  # noqa: E402 - the same pairs, chosen the same way

from kernel_eval.engine import child_setup  # noqa: E402
from kernel_eval.engine.pool import WorkerPool  # noqa: E402
from kernel_eval.engine.processes import WorkerProcess  # noqa: E402
from kernel_eval.request import EvalRequest  # noqa: E402
from kernel_eval.result import SandboxMode  # noqa: E402

MODES = (SandboxMode.AUTO, SandboxMode.OFF)
CONFINE_PROBE = """
import time
from kernel_eval.sandbox import confine
t0 = time.perf_counter()
confine.at_start()
t1 = time.perf_counter()
import torch.utils.cpp_extension
t2 = time.perf_counter()
confine.to_file(BUILD, USER)
t3 = time.perf_counter()
print(f"{(t1 - t0) * 1000:.2f} {(t3 - t2) * 1000:.2f}")
"""


@dataclass
class Options:
    repeats: int = 20  # warm evaluations per mode
    starts: int = 6  # candidate starts per mode
    device: str = ""  # "" = cuda:0 when present, else cpu


def line(label: str, samples: dict[SandboxMode, list[float]], unit: str = "ms") -> float:
    on, off = (statistics.median(samples[mode]) for mode in MODES)
    print(
        f"{label:<28} on {on:9.2f} {unit}  off {off:9.2f} {unit}  difference {on - off:+8.2f} {unit}"
        f"  (n={len(samples[SandboxMode.AUTO])} each; min on {min(samples[SandboxMode.AUTO]):.2f},"
        f" off {min(samples[SandboxMode.OFF]):.2f})"
    )
    return on - off


def warm(options: Options, device: str, ref: str, custom: str, prefix: str) -> float:
    pools = {mode: WorkerPool(spares=0) for mode in MODES}
    requests = {
        mode: EvalRequest(
            str(ROOT / ref), str(ROOT / custom), device=device, build_dir_prefix=prefix, sandbox=mode
        )
        for mode in MODES
    }
    samples: dict[SandboxMode, list[float]] = {mode: [] for mode in MODES}
    try:
        for mode in MODES:
            first = pools[mode].evaluate(requests[mode])
            print(f"first evaluation, sandbox {mode.value}: {first.duration_s:.2f} s, {first.headline}")
            print(f"  {first.sandbox.summary if first.sandbox else 'no sandbox record'}")
        for _ in range(options.repeats):
            for mode in MODES:
                started = time.perf_counter()
                result = pools[mode].evaluate(requests[mode])
                samples[mode].append((time.perf_counter() - started) * 1000)
                assert result.verdict.value == "correct", result.headline
    finally:
        for pool in pools.values():
            pool.close()
    return line("warm re-evaluation", samples)


def starts(options: Options, device: str) -> float:
    payload = tempfile.mkdtemp(prefix="kernel-eval-bench-payload-")
    samples: dict[SandboxMode, list[float]] = {mode: [] for mode in MODES}
    for _ in range(options.starts):
        for mode in MODES:
            started = time.perf_counter()
            worker = WorkerProcess("candidate", device, payload, mode)
            try:
                worker.wait_ready(300)
                samples[mode].append((time.perf_counter() - started) * 1000)
            finally:
                worker.close()
    return line("candidate start to hello", samples)


def confining(prefix: str) -> None:
    user = str(ROOT / "examples" / "triton_add")
    layer1, layer2 = [], []
    for _ in range(5):
        folder = child_setup.private_folder("bench")
        policy = child_setup.policy(SandboxMode.AUTO, "candidate", folder / "tmp", prefix)
        code = f"BUILD = {str(Path(prefix) / 'bench-key')!r}; USER = {user!r}\n" + CONFINE_PROBE
        done = subprocess.run(
            [sys.executable, "-c", code],
            env=child_setup.environment_for(policy),
            cwd=folder / "tmp",
            capture_output=True,
            text=True,
            check=True,
        )
        first, second = (float(v) for v in done.stdout.split())
        layer1.append(first)
        layer2.append(second)
    print(
        f"confining in the worker       at start {statistics.median(layer1):.2f} ms, "
        f"to its file {statistics.median(layer2):.2f} ms (medians of 5 fresh processes)"
    )


def main() -> None:
    options = simple_parsing.parse(Options)
    ref, custom, device = pair_and_device(options.device)
    prefix = tempfile.mkdtemp(prefix="kernel-eval-bench-")
    print(f"pair: {custom} on {device}")
    extra_warm = warm(options, device, ref, custom, prefix)
    extra_start = starts(options, device)
    confining(prefix)
    print(
        f"targets: warm re-evaluation +{extra_warm:.2f} ms (at most +5 ms), "
        f"candidate start {extra_start:+.1f} ms (at most +100 ms)"
    )


if __name__ == "__main__":
    main()
