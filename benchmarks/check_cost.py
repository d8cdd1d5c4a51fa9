"""What judging against the float64 answer costs per trial, next to the reference's own forward.

    python benchmarks/check_cost.py [--device cuda:0] [--repeats 5]

For each case: the reference forward in its own dtype, the same forward run in float64 (what the judge adds to
each trial), the comparison with the float64 rule and with plain tolerances, and the vacuity check (once per
reference). Milliseconds, median of the repeats, after one untimed call (which also makes the float64 copy).
float64 throughput differs a lot between GPUs (data-centre parts run it at 1/2 the fp32 rate, consumer parts at
1/64), so run it on the GPU you judge on.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import simple_parsing
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "daemon"))

from kernel_eval.stages.check import compare_outputs
from kernel_eval.stages.exactness import Float64Reference
from kernel_eval.stages.vacuity import vacuity_flags


@dataclass
class Options:
    device: str = ""  # "" = cuda:0 when present, else cpu
    repeats: int = 5
    threads: int = 0  # CPU threads for torch (0 = its default; 1 avoids oversubscription on a busy machine)


class MatMul(nn.Module):
    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return a @ b


def cases(device: torch.device) -> list[tuple[str, nn.Module, list[torch.Tensor]]]:
    """(name, model, inputs), sized down on the CPU so the script finishes in seconds there."""
    big = device.type == "cuda"
    n = 4096 if big else 512
    image = 64 if big else 16

    def randn(*shape: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        return torch.randn(*shape, device=device, dtype=dtype)

    return [
        (
            "matmul K=131072 fp32",
            MatMul(),
            [randn(64 if big else 8, 131072), randn(131072, 64 if big else 16)],
        ),
        (f"matmul {n}^3 fp32", MatMul(), [randn(n, n), randn(n, n)]),
        (
            f"matmul {n}^3 fp16",
            MatMul(),
            [randn(n, n, dtype=torch.float16), randn(n, n, dtype=torch.float16)],
        ),
        ("conv2d 3x3 fp32", nn.Conv2d(64, 64, 3, padding=1).to(device), [randn(16, 64, image, image)]),
        ("layernorm fp32", nn.LayerNorm(n).to(device), [randn(n, n)]),
        ("softmax fp32", nn.Softmax(dim=-1), [randn(n, n)]),
    ]


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def median_ms(fn: Callable[[], object], device: torch.device, repeats: int) -> float:
    fn()
    sync(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        sync(device)
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def measure(
    name: str, model: nn.Module, inputs: list[torch.Tensor], device: torch.device, repeats: int
) -> str:
    with torch.no_grad():
        ref = model(*inputs)
        custom = ref + ref.abs().mean() * 1e-7
    wide = Float64Reference(model)
    answer = wide.answer(inputs, {})
    columns = [
        median_ms(lambda: model(*inputs), device, repeats),
        median_ms(lambda: wide.answer(inputs, {}), device, repeats),
        median_ms(lambda: compare_outputs(ref, custom, exact=answer), device, repeats),
        median_ms(lambda: compare_outputs(ref, custom), device, repeats),
        median_ms(lambda: vacuity_flags(ref, exact=answer), device, 1),
    ]
    return f"{name:<24}" + "".join(f"{value:>14.2f}" for value in columns)


def main() -> None:
    options = simple_parsing.parse(Options)
    device = torch.device(options.device or ("cuda:0" if torch.cuda.is_available() else "cpu"))
    if options.threads:
        torch.set_num_threads(options.threads)
    heading = ("forward", "float64 run", "float64 cmp", "tolerance cmp", "vacuity")
    print(
        f"check cost on {device} ({torch.cuda.get_device_name(device) if device.type == 'cuda' else 'CPU'}), ms"
    )
    print(f"{'case':<24}" + "".join(f"{column:>14}" for column in heading))
    for name, model, inputs in cases(device):
        print(measure(name, model, inputs, device, options.repeats), flush=True)


if __name__ == "__main__":
    main()
