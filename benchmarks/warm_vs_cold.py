"""Warm re-evaluation through one WorkerPool vs. a cold `scripts/run_and_check.py` process each time.

    python benchmarks/warm_vs_cold.py [--repeats 10] [--cold_repeats 3]

Uses the unchanged CUDA add example when CUDA is present, else the Triton example on the CPU (interpreter).
Target (GPU): warm re-evaluation <= 0.5 s and >= 10x faster than cold.
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

from kernel_eval.engine.pool import WorkerPool  # noqa: E402
from kernel_eval.request import EvalRequest  # noqa: E402

CUDA_PAIR = ("tests/test_data/cuda/model_ex_add.py", "tests/test_data/cuda/model_new_ex_add.py")
CPU_PAIR = ("examples/triton_add/model_add.py", "examples/triton_add/model_new_add.py")


@dataclass
class Options:
    repeats: int = 10  # warm evaluations timed (after one that warms the build cache)
    cold_repeats: int = 3  # cold CLI processes timed
    device: str = ""  # "" = cuda:0 when present, else cpu


def cuda_present() -> bool:
    probe = "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"
    return subprocess.run([sys.executable, "-c", probe]).returncode == 0


def pair_and_device(device: str) -> tuple[str, str, str]:
    """(reference, custom, device): the CUDA add on `device` or the first GPU, else the Triton example on the CPU."""
    cuda = cuda_present() if not device else device.startswith("cuda")
    ref, custom = CUDA_PAIR if cuda else CPU_PAIR
    return ref, custom, device or ("cuda:0" if cuda else "cpu")


def main() -> None:
    options = simple_parsing.parse(Options)
    ref, custom, device = pair_and_device(options.device)
    prefix = tempfile.mkdtemp(prefix="kernel-eval-bench-")
    request = EvalRequest(str(ROOT / ref), str(ROOT / custom), device=device, build_dir_prefix=prefix)

    with WorkerPool() as pool:
        first = pool.evaluate(request)
        print(
            f"first evaluation (build + cold workers): {first.duration_s:.2f} s, verdict {first.verdict.value}"
        )
        warm = []
        for _ in range(options.repeats):
            started = time.perf_counter()
            result = pool.evaluate(request)
            warm.append(time.perf_counter() - started)
            assert result.verdict.value == "correct", result.headline
    cold = []
    command = [
        sys.executable,
        str(ROOT / "scripts/run_and_check.py"),
        "--ref_src",
        ref,
        "--custom_src",
        custom,
    ]
    command += ["--device", device, "--build_dir_prefix", prefix]
    for _ in range(options.cold_repeats):
        started = time.perf_counter()
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
        cold.append(time.perf_counter() - started)
        assert done.returncode == 0, done.stdout + done.stderr
    warm_s, cold_s = statistics.median(warm), statistics.median(cold)
    print(f"example: {custom} on {device}")
    print(
        f"warm re-evaluation (WorkerPool, n={len(warm)}): median {warm_s:.3f} s  min {min(warm):.3f}  max {max(warm):.3f}"
    )
    print(
        f"cold CLI process (n={len(cold)}):              median {cold_s:.3f} s  min {min(cold):.3f}  max {max(cold):.3f}"
    )
    print(f"ratio cold/warm: {cold_s / warm_s:.1f}x   (targets: warm <= 0.5 s, ratio >= 10x)")


if __name__ == "__main__":
    main()
