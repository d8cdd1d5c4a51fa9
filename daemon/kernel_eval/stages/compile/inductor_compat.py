"""TorchInductor-generated code (e.g. KernelBook files) against current torch, and on a CPU.

Installed in the candidate worker before the custom module is imported, and only where the real thing is missing.
Each shim returns a note for the result, so a user sees what was supplied.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import torch


def compat_grid(*numels: int) -> Callable[[dict[str, Any]], tuple[int, int, int]]:
    """Inductor's pre-2.7 `grid(xnumel[, ynumel[, znumel]])`: launch grid from the block sizes in `meta`."""

    def dim(numel: int | None, block: int | None) -> int:
        if numel is None:
            return 1
        if block is None:
            return numel
        return -(-numel // block)

    padded = (*numels, None, None, None)[:3]

    def grid_fn(meta: dict[str, Any]) -> tuple[int, int, int]:
        return (
            dim(padded[0], meta.get("XBLOCK", 1)),
            dim(padded[1], meta.get("YBLOCK")),
            dim(padded[2], meta.get("ZBLOCK")),
        )

    return grid_fn


def supply_grid(source: str) -> str | None:
    """Give triton_heuristics a `grid` when the file imports it and torch no longer has it."""
    if "triton_heuristics" not in source or "grid" not in source:
        return None
    try:
        from torch._inductor.runtime import triton_heuristics
    except Exception:
        return None
    if hasattr(triton_heuristics, "grid"):
        return None
    triton_heuristics.grid = compat_grid  # type: ignore[attr-defined]
    return (
        f"this TorchInductor-generated file imports the grid() helper that torch removed in 2.7 (this is torch "
        f"{torch.__version__}); kernel-eval supplied a compatible grid()"
    )


class _NoDeviceGuard(contextlib.nullcontext):  # type: ignore[type-arg]
    def __init__(self, index: int = 0) -> None:
        super().__init__()


def map_cuda_calls_to_cpu(source: str) -> str | None:
    """Let generated CUDA-flavoured glue (empty_strided_cuda, _DeviceGuard, get_raw_stream) run on the CPU."""
    markers = ("empty_strided_cuda", "_DeviceGuard", "_cuda_getCurrentRawStream", "torch.cuda.set_device")
    used = [m for m in markers if m in source]
    if not used or torch.cuda.is_available():
        return None
    guards = torch._C._dynamo.guards

    def empty_strided_cpu(size: Any, stride: Any, dtype: torch.dtype) -> torch.Tensor:
        return torch.empty_strided(size, stride, dtype=dtype, device="cpu")

    guards._empty_strided_cuda = empty_strided_cpu  # type: ignore[attr-defined]
    if not hasattr(torch._C, "_cuda_getCurrentRawStream"):
        torch._C._cuda_getCurrentRawStream = lambda device=0: 0  # type: ignore[attr-defined,misc]
    torch.cuda._DeviceGuard = _NoDeviceGuard  # type: ignore[attr-defined,misc,assignment]
    torch.cuda.set_device = lambda device: None
    return (
        "no CUDA device: this TorchInductor-generated file allocates its buffers and picks its GPU with CUDA-only "
        "calls; kernel-eval runs them on the CPU, so its Triton kernels run in Triton's interpreter"
    )
