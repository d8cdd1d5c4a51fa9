"""Triton kernels compiled ahead, with no GPU: one forward on meta tensors under a driver that only names the
target, so that each `kernel[grid](...)` compiles into the Triton cache and launches nothing.

A batch runs this in its build processes while the lanes time other pairs. The lane's first forward then loads the
cached kernels (and Triton's C helpers, built here too where libcuda is found) instead of compiling them on a GPU
that is held for the pair. An autotuned kernel compiles every config it would try. Whatever cannot be run this way
(a forward that reads values, moves tensors to CUDA, ...) is left to the lane: compiling ahead is only a head start.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch

from kernel_eval.stages import load
from kernel_eval.stages.compile import cache
from kernel_eval.stages.inputs import seeded, split_args

WARP_SIZE = 32


def capability(arch: str) -> int:
    """Triton's target number for an sm_XY arch (sm_90 -> 90)."""
    return int("".join(c for c in arch.removeprefix("sm_") if c.isdigit()))


def compile_ahead(custom_file: str, entry_point: str, ref_file: str, arch: str, seed: int = 42) -> int:
    """Import `custom_file` and run one forward of `entry_point` on the reference's inputs, compiling each Triton
    kernel it launches for `arch` (sm_XY). Returns the number of kernels compiled. Meta tensors first (no data, any size),
    then CPU tensors for a forward that needs values."""
    reference = load.import_file(ref_file, "reference")
    get_inputs = load.required_function(reference, "get_inputs", ref_file)
    get_init_inputs: Callable[[], object] = getattr(reference, "get_init_inputs", list)
    with compile_only(capability(arch)) as compiled:
        module = load.import_file(custom_file, "custom")
        cls = load.entry_point(module, entry_point, custom_file, "custom")
        failure: Exception | None = None
        for device in ("meta", "cpu"):
            try:
                with torch.device(device), seeded(seed), torch.no_grad():
                    init_args, init_kwargs = split_args(get_init_inputs(), "get_init_inputs()")
                    args, kwargs = split_args(get_inputs(), "get_inputs()")
                    cls(*init_args, **init_kwargs)(*args, **kwargs)
                return len(compiled)
            except Exception as exc:  # the next device, or the lane compiles what is left
                failure = exc
        assert failure is not None
        raise failure


@contextmanager
def compile_only(target: int) -> Iterator[list[Any]]:
    """While open, Triton launches compile for GPUTarget("cuda", target) and run nothing. Yields the compiled
    kernels as they come. Triton's own state is put back on exit."""
    from triton.backends.compiler import GPUTarget
    from triton.runtime import driver
    from triton.runtime.autotuner import Autotuner
    from triton.runtime.jit import JITFunction

    compiled: list[Any] = []
    launch, tune = JITFunction.run, Autotuner.run

    def compile_instead(self: Any, *args: Any, grid: Any, warmup: bool, **kwargs: Any) -> Any:
        kernel = launch(self, *args, grid=grid, warmup=True, **kwargs)
        if kernel is not None:
            compiled.append(kernel)
            _build_launcher(kernel)
        return kernel

    def compile_every_config(
        self: Any, *args: Any, grid: Any = None, warmup: bool = False, **kwargs: Any
    ) -> Any:
        self.nargs = dict(zip(self.arg_names, args, strict=False))
        try:
            return [
                self.fn.run(*args, grid=grid, warmup=True, **{**kwargs, **config.all_kwargs()})
                for config in self.prune_configs(kwargs)
            ]
        finally:
            self.nargs = None

    active = getattr(driver, "_active", None)  # None: Triton makes its own on first use (a GPU's, if any)
    driver.set_active(_TargetOnly(GPUTarget("cuda", target, WARP_SIZE)))
    JITFunction.run, Autotuner.run = compile_instead, compile_every_config  # type: ignore[method-assign]
    try:
        yield compiled
    finally:
        JITFunction.run, Autotuner.run = launch, tune  # type: ignore[method-assign]
        driver.set_active(active)


def _build_launcher(kernel: Any) -> None:
    """Triton's C helpers for this kernel (its launcher, and cuda_utils), built into the same cache. Skipped
    where they cannot be (no libcuda to link against, as on a machine without a GPU driver)."""
    try:
        from triton.backends.nvidia.driver import CudaLauncher

        CudaLauncher(kernel.src, kernel.metadata)
    except Exception:  # the lane builds them on first launch
        return


def warm_up(device: torch.device, judge: bool = False) -> None:
    """Compile (once per user, into the helpers folder) and launch one tiny kernel, so that a file's first launch
    pays for its own kernels only: Triton's source hash, the backend's ptxas version, the C helper and the launch
    path are ready. A worker does this while idle. Nothing happens where Triton is missing."""
    try:
        import triton
        import triton.language as tl

        @triton.jit
        def touch(pointer):  # type: ignore[no-untyped-def]  # Triton reads annotations as its own types
            tl.store(pointer, tl.load(pointer) + 1)

        with cache.triton_helpers(judge):
            touch[(1,)](torch.zeros(1, device=device))
    except Exception:  # no Triton, no GPU driver: the first launch, if any, will say what is wrong
        return


class _TargetOnly:
    """A Triton driver that knows the target and nothing else: enough to compile, not to launch."""

    def __init__(self, target: Any) -> None:
        self.target = target
        self._utils: Any = None

    def get_current_target(self) -> Any:
        return self.target

    def get_current_device(self) -> int:
        return 0

    def get_current_stream(self, device: int | None = None) -> int:
        return 0

    def get_benchmarker(self) -> Any:
        raise RuntimeError("kernel-eval compiles Triton kernels ahead here; nothing is launched or timed")

    @property
    def utils(self) -> Any:
        if self._utils is None:
            from triton.backends.nvidia.driver import CudaUtils

            with cache.triton_helpers():
                self._utils = CudaUtils()
        return self._utils
