"""Inside a worker: import torch once, settle the device, and keep CUDA (or the Triton interpreter) warm."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable

import attrs
import torch

from kernel_eval.protocol.messages import Hello
from kernel_eval.sandbox import confine
from kernel_eval.stages.compile import arch, triton_ahead
from kernel_eval.stages.compile.arch import BuildArch
from kernel_eval.stages.timing import l2
from kernel_eval.stages.timing.clocks import Clocks
from kernel_eval.stages.timing.timer import Timer


@attrs.define
class Runtime:
    requested: str
    device: torch.device
    clocks: Clocks = attrs.field(factory=Clocks.bind)
    """Bound before any user module is imported."""
    _timer: Timer | None = attrs.field(default=None, init=False)

    @property
    def timer(self) -> Timer:
        if self._timer is None:
            self._timer = Timer(self.device, self.clocks)
        return self._timer

    @property
    def is_cuda(self) -> bool:
        return self.device.type == "cuda"

    @property
    def label(self) -> str:
        return self.requested if self.is_cuda else "cpu"

    @property
    def build_arch(self) -> BuildArch:
        """What the custom file's builds target: this worker's GPU, or the CPU."""
        return arch.of_device(self.device.index or 0) if self.is_cuda else arch.ON_CPU

    def sync(self) -> None:
        if self.is_cuda:
            torch.cuda.synchronize()

    def hello(self) -> Hello:
        return Hello(
            pid=os.getpid(),
            device=self.label,
            torch_version=torch.__version__,
            cuda_version=torch.version.cuda or "",
            cuda_available=torch.cuda.is_available(),
            gpu_name=torch.cuda.get_device_name(self.device) if self.is_cuda else "",
            gpu_arch=self.build_arch.key,
            sandbox=confine.record(),
        )


def start_runtime(requested: str) -> Runtime:
    """cuda:N is device 0 here (the parent set CUDA_VISIBLE_DEVICES). No CUDA means CPU + Triton interpreter.

    What only makes a first use quicker is left to `idle_warm_ups`: a worker is able to load a file without it."""
    wants_cuda = requested == "" or requested.startswith("cuda")
    if wants_cuda and torch.cuda.is_available():
        device = torch.device("cuda", 0)
        torch.cuda.set_device(device)
        # create the context and warm the allocator now, not on first use
        torch.zeros(1, device=device).add_(1)
        torch.cuda.synchronize()
        l2.start_clean()
    else:
        device = torch.device("cpu")
        # before the first `import triton`, or in a fork of the template before Triton's first use
        os.environ["TRITON_INTERPRET"] = "1"
    with contextlib.suppress(ImportError):
        import triton  # noqa: F401 - imported once here so evaluations don't pay for it
    warm_cpu_math()
    # the timing clocks are bound here, before the worker imports any user module
    return Runtime(requested or ("cuda:0" if device.type == "cuda" else "cpu"), device, Clocks.bind())


def idle_warm_ups(runtime: Runtime, judge: bool = False) -> list[Callable[[], None]]:
    """What a worker does while no request waits, in steps: the profiler's first session (seconds of CUPTI set-up)
    and Triton's launch path. A request that comes first is answered first, and pays for what it uses."""
    if not runtime.is_cuda:
        return []
    device = runtime.device

    def triton_launch() -> None:
        triton_ahead.warm_up(device, judge)
        torch.cuda.synchronize()

    return [lambda: _start_profiler_once(device), triton_launch]


def warm_cpu_math() -> None:
    """One vectorized math call on every intra-op thread, before any user or reference code runs.

    With torch 2.13's CPU build, the first such call (exp, erf, ...) on a fresh intra-op thread comes out at about
    half float32 precision in about a quarter of processes (1e-4 relative instead of 6e-8, on that thread's chunk
    only). Later calls are exact. Unwarmed, a correct `1 / (1 + torch.exp(-x))` was failed against
    `torch.sigmoid` in one batch run of two."""
    threads = max(1, torch.get_num_threads())
    torch.exp(torch.zeros(threads * 65536))  # past ATen's grain (32768) per thread: every thread gets a chunk


def _start_profiler_once(device: torch.device) -> None:
    """Both sides profile every evaluation (the kernels a forward launches, CUPTI timing). The first profiler
    session in a process pays Kineto's and CUPTI's set-up (seconds), so a worker pays it here, while it is idle
    (a spare that takes over after a crash is then as quick as a warm worker)."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]):
        torch.zeros(1, device=device).add_(1)
        torch.cuda.synchronize()
