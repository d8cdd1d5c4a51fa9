"""Warm re-evaluation through one WorkerPool vs. a cold `scripts/run_and_check.py` process each time, and the CLI
end to end through its server: the first call (which starts the server) and the second (which finds it warm).

    python benchmarks/warm_vs_cold.py [--repeats 10] [--cold_repeats 3]

Uses the unchanged CUDA add example when CUDA is present, else the Triton example on the CPU (interpreter).
Targets (GPU): warm re-evaluation <= 0.5 s and >= 10x faster than cold; the CLI's second call through its server
<= 0.5 s, its first no slower than a cold call (--no-server). Each server round runs in a runtime folder of its
own (never your own server) and is stopped at its end.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
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
from kernel_eval.server import address  # noqa: E402

CUDA_PAIR = ("tests/test_data/cuda/model_ex_add.py", "tests/test_data/cuda/model_new_ex_add.py")
CPU_PAIR = ("examples/triton_add/model_add.py", "examples/triton_add/model_new_add.py")


@dataclass
class Options:
    repeats: int = 10  # warm evaluations timed (after one that warms the build cache)
    cold_repeats: int = 3  # cold CLI processes timed, and as many servers started by a first CLI call
    device: str = ""  # "" = cuda:0 when present, else cpu


def cuda_present() -> bool:
    probe = "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"
    return subprocess.run([sys.executable, "-c", probe]).returncode == 0


def pair_and_device(device: str) -> tuple[str, str, str]:
    """(reference, custom, device): the CUDA add on `device` or the first GPU, else the Triton example on the CPU."""
    cuda = cuda_present() if not device else device.startswith("cuda")
    ref, custom = CUDA_PAIR if cuda else CPU_PAIR
    return ref, custom, device or ("cuda:0" if cuda else "cpu")


def timed(command: list[str], env: dict[str, str] | None = None) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    assert done.returncode == 0, done.stdout + done.stderr
    return elapsed


def served_calls(command: list[str]) -> tuple[float, float]:
    """(first call, second call) of the CLI through a server of its own, started by the first."""
    runtime = tempfile.mkdtemp(prefix="ke-bench-", dir="/tmp")
    env = {**os.environ, "XDG_RUNTIME_DIR": runtime}
    try:
        first = timed(command, env)
        assert list(Path(runtime).glob("kernel-eval/*.sock")), "the first call started no server"
        return first, timed(command, env)
    finally:
        stop_servers(Path(runtime))
        shutil.rmtree(runtime, ignore_errors=True)


def stop_servers(runtime: Path) -> None:
    for sock in runtime.glob("kernel-eval/*.sock"):
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(str(sock))
            pid = address.peer_pid(probe)
        except OSError:
            continue
        finally:
            probe.close()
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        while sock.exists() and time.monotonic() < deadline:
            time.sleep(0.05)


def line(label: str, times: list[float]) -> str:
    return f"{label:<44} median {statistics.median(times):.3f} s  min {min(times):.3f}  max {max(times):.3f}"


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
    command = [
        sys.executable,
        str(ROOT / "scripts/run_and_check.py"),
        "--ref_src",
        ref,
        "--custom_src",
        custom,
    ]
    command += ["--device", device, "--build_dir_prefix", prefix]
    cold, first_calls, second_calls = [], [], []
    for _ in range(
        options.cold_repeats
    ):  # taken in turns, so that drift (caches, clocks) falls on both alike
        cold.append(timed([*command, "--no-server"]))
        started_it, found_it = served_calls(command)
        first_calls.append(started_it)
        second_calls.append(found_it)
    warm_s, cold_s = statistics.median(warm), statistics.median(cold)
    print(f"example: {custom} on {device}")
    print(line(f"warm re-evaluation (WorkerPool, n={len(warm)}):", warm))
    print(line(f"cold CLI process (--no-server, n={len(cold)}):", cold))
    print(line(f"CLI, first call (starts its server, n={len(first_calls)}):", first_calls))
    print(line(f"CLI, second call (warm server, n={len(second_calls)}):", second_calls))
    print(f"ratio cold/warm: {cold_s / warm_s:.1f}x   (targets: warm <= 0.5 s, ratio >= 10x)")
    print(
        f"CLI through its server: second call {statistics.median(second_calls):.3f} s, first call "
        f"{statistics.median(first_calls) / cold_s:.2f}x the cold one   (targets: second <= 0.5 s, first <= 1x cold)"
    )


if __name__ == "__main__":
    main()
