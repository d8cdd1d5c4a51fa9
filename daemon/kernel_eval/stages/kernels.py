"""Which GPU kernels one forward launched on each side, and whether the custom side ran a kernel of its own.

A ModelNew that only calls the reference's PyTorch ops is correct but tests no custom kernel. The result says so
with a warning (the verdict stands). A custom-side kernel counts as its own when its name is a kernel the custom
file declares (a CUDA __global__ function or a @triton.jit function), or when the reference did not launch it and
it is not a library kernel (aten, cub, cuBLAS/cuBLASLt, cuDNN, CUTLASS, flash attention). Kernels built from
another file are recognised by the second test unless their names look like a library's.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import attrs

from kernel_eval.kinds import FlagKind
from kernel_eval.result import Flag, Severity

if TYPE_CHECKING:  # the parent analyses kernel names without loading torch: only workers profile
    import torch

_NOT_KERNELS = ("Memcpy", "Memset")
_LIBRARY_MARKERS = (
    "at::",
    "at_cuda_detail::",
    "c10::",
    "cub::",
    "cublas",
    "cutlass",
    "cudnn",
    "xmma",
    "nvjet",
    "gemm",
    "gemv",
    "splitKreduce",
    "flash_fwd",
    "flash_bwd",
    "fmha",
    "pytorch_flash",
)
_GLOBAL = re.compile(
    r"__global__\s+(?:__launch_bounds__\s*\([^)]*\)\s*)?\w+\s+(?:__launch_bounds__\s*\([^)]*\)\s*)?(\w+)\s*[(<]"
)
_MAX_LISTED = 6


@attrs.frozen
class KernelReport:
    reference: list[str]
    custom: list[str]
    own: list[str]
    """The custom side's kernels that count as its own."""

    @property
    def ran_custom_kernel(self) -> bool:
        return bool(self.own)


def kernel_names(events: Iterable[Any]) -> list[str]:
    """Names of the device kernels among profiler events, each once, in launch order (copies/memsets left out)."""
    import torch

    names: dict[str, None] = {}
    for event in events:
        device_type = getattr(event, "device_type", None)
        if device_type is None or device_type == torch.autograd.DeviceType.CPU:
            continue
        name = str(event.name)
        if not name.startswith(_NOT_KERNELS):
            names.setdefault(name, None)
    return list(names)


def declared_kernels(source: str) -> set[str]:
    """Kernel names a source file declares: CUDA __global__ functions (in any string) and @triton.jit functions."""
    names = set(_GLOBAL.findall(source))
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return names
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and any(
            _is_jit(decorator) for decorator in node.decorator_list
        ):
            names.add(node.name)
    return names


def _is_jit(decorator: ast.expr) -> bool:
    target = decorator.func if isinstance(decorator, ast.Call) else decorator
    return (isinstance(target, ast.Attribute) and target.attr == "jit") or (
        isinstance(target, ast.Name) and target.id == "jit"
    )


def analyze(reference: list[str], custom: list[str], declared: set[str]) -> KernelReport:
    ref_names = set(reference)
    own = [
        name
        for name in custom
        if _identifier(name) in declared or (name not in ref_names and not is_library_kernel(name))
    ]
    return KernelReport(reference=reference, custom=custom, own=own)


def is_library_kernel(name: str) -> bool:
    return any(marker in name for marker in _LIBRARY_MARKERS)


def _identifier(name: str) -> str:
    """The function's own name in a demangled kernel name: "void ns::k<float>(float*, int)" -> "k"."""
    head = name.removeprefix("void ").split("(", 1)[0].split("<", 1)[0]
    return head.rsplit("::", 1)[-1].strip()


def no_custom_kernel_flag(report: KernelReport) -> Flag | None:
    """A warning when the custom side launched no kernel of its own (None when it did)."""
    if report.ran_custom_kernel:
        return None
    if not report.custom:
        message = "no custom kernel ran: ModelNew's forward launched no GPU kernel at all"
    else:
        listed = ", ".join(_short(name) for name in report.custom[:_MAX_LISTED])
        more = f" and {len(report.custom) - _MAX_LISTED} more" if len(report.custom) > _MAX_LISTED else ""
        message = (
            "no custom kernel ran: ModelNew's forward launched only library kernels or kernels the reference "
            f"also launches ({listed}{more})"
        )
    return Flag(FlagKind.NO_CUSTOM_KERNEL, message, Severity.WARNING)


def _short(name: str) -> str:
    return name if len(name) <= 80 else name[:77] + "..."


def profile_kernels(forward: Callable[[], object], device: torch.device) -> list[str] | None:
    """The kernels one call of forward launches on a CUDA device, or None elsewhere (no kernels to see)."""
    if device.type != "cuda":
        return None
    import torch
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        forward()
        torch.cuda.synchronize(device)
    return kernel_names(prof.events())
