"""The measurements behind the float64 rule's constants (stages/exactness.py): errors against the float64 answer.

    python benchmarks/check_accuracy.py [--device cpu] [--seed 0]

Each row is one way of computing an output: correct ones in another order or formula, and wrong ones (operands
rounded to fp16/bf16/TF32, a bias, a missing term). Columns: the elementwise and norm-wise errors, each as a
multiple of the reference's own, and whether the rule passes it. Correct kernels must stay under FACTOR (32 for
fp32, 8 for fp16/bf16) with room to spare; wrong ones must land far above it.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import simple_parsing
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "daemon"))

from kernel_eval.stages import exactness

Tensor = torch.Tensor


@dataclass
class Options:
    device: str = "cpu"
    seed: int = 0
    k: int = 131072  # reduction length of the fp32 matmul cases


def tiles(a: Tensor, b: Tensor, tile: int) -> Tensor:
    """One accumulator, tile after tile along K (a naive kernel's loop; tile 1 is a scalar sequential sum)."""
    acc = torch.zeros(a.shape[0], b.shape[1], dtype=a.dtype, device=a.device)
    for k in range(0, a.shape[1], tile):
        acc = acc + a[:, k : k + tile] @ b[k : k + tile]
    return acc


def split_k(a: Tensor, b: Tensor, chunk: int) -> Tensor:
    return torch.stack([a[:, k : k + chunk] @ b[k : k + chunk] for k in range(0, a.shape[1], chunk)]).sum(0)


def tf32(x: Tensor) -> Tensor:
    return (x.view(torch.int32) & ~0x1FFF).view(torch.float32)


def row(name: str, exact: Tensor, ref: Tensor, custom: Tensor) -> str:
    errors = exactness.measure(exact, ref, custom)
    assert errors is not None
    elementwise = errors.custom_error / max(errors.ref_error, exactness.floor(ref.dtype))
    normwise = errors.custom_norm_error / max(errors.ref_norm_error, exactness.floor(ref.dtype))
    verdict = "pass" if errors.passed else "FAIL"
    return f"{name:<34}{elementwise:>12.3g}{normwise:>12.3g}{verdict:>8}"


def matmul_rows(options: Options, generator: torch.Generator) -> list[str]:
    device = torch.device(options.device)
    a = torch.randn(16, options.k, generator=generator).to(device)
    b = torch.randn(options.k, 32, generator=generator).to(device)
    exact, ref = a.double() @ b.double(), a @ b
    cases: dict[str, Callable[[], Tensor]] = {
        "fp32 split-K 4096": lambda: split_k(a, b, 4096),
        "fp32 tiles of 64": lambda: tiles(a, b, 64),
        "fp32 tiles of 16": lambda: tiles(a, b, 16),
        "fp32 scalar sequential": lambda: tiles(a, b, 1),
        "fp16-rounded operands": lambda: a.half().float() @ b.half().float(),
        "bf16-rounded operands": lambda: a.bfloat16().float() @ b.bfloat16().float(),
        "TF32-truncated operands": lambda: tf32(a) @ tf32(b),
        "1e-3 relative bias": lambda: ref * (1 + 1e-3),
        "first k skipped": lambda: a[:, 1:] @ b[1:],
    }
    return [row(f"{name} (K={options.k})", exact, ref, custom()) for name, custom in cases.items()]


def low_precision_rows(generator: torch.Generator) -> list[str]:
    rows = []
    for dtype in (torch.float16, torch.bfloat16):
        name = str(dtype).removeprefix("torch.")
        a = torch.randn(64, 4096, generator=generator).to(dtype)
        b = torch.randn(4096, 64, generator=generator).to(dtype)
        exact, ref = a.double() @ b.double(), a @ b
        rows.append(
            row(f"{name} matmul, fp32 accumulation", exact, ref, tiles(a.float(), b.float(), 32).to(dtype))
        )
        rows.append(row(f"{name} matmul, {name} accumulation", exact, ref, tiles(a, b, 32)))
        x = (torch.randn(256, 4096, generator=generator) * 3).to(dtype)
        exact, ref = F.gelu(x.double()), F.gelu(x)
        formula = 0.5 * x * (1 + torch.erf(x / math.sqrt(2)))
        rows.append(row(f"{name} gelu, erf formula in {name}", exact, ref, formula))
    return rows


def main() -> None:
    options = simple_parsing.parse(Options)
    generator = torch.Generator().manual_seed(options.seed)
    print(f"{'case':<34}{'elem / ref':>12}{'norm / ref':>12}{'rule':>8}")
    for line in matmul_rows(options, generator) + low_precision_rows(generator):
        print(line, flush=True)


if __name__ == "__main__":
    main()
