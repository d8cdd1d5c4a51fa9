"""Build-only processes, parent side: start one that imports a custom file so its extension lands in the build
cache, and ask a throwaway process for a device's build arch.

The batch runs these on every CPU core while the lanes evaluate other pairs. The lane's own load of the same source
is then a cache hit (the cache is keyed by file, source, torch/CUDA version and GPU arch, and the build lock makes a
lane that arrives mid-build wait for it instead of building twice). The editor builds unsaved text with them too
(lsp/draft_builds.py). A failed or hung prebuild is ignored: the evaluation itself reports the error. The child
side is worker/build_only.py.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from kernel_eval import source_info
from kernel_eval.engine import child_setup, spawn
from kernel_eval.request import EvalRequest
from kernel_eval.result import Backend, SandboxMode
from kernel_eval.sandbox.policy import Policy
from kernel_eval.stages.compile.arch import ARCH_ENV, CPU

BUILDS_AT_IMPORT = (Backend.CUDA_EXTENSION, Backend.CPP_EXTENSION)
CHILD_MODULE = "kernel_eval.worker.build_only"


def start(
    args: list[str],
    folder: Path,
    sandbox: SandboxMode = SandboxMode.AUTO,
    build_dir_prefix: str = "",
    device: str | None = None,
    arch: str = "",
) -> spawn.Child:
    """A build process (`args` as worker/build_only.py takes them), confined (engine/spawn.py), its temporary
    folder in `folder`, seeing the GPU of `device` (None: no GPU), building for `arch` (as gpu_arch spells it)."""
    return spawn.start(
        CHILD_MODULE, args, _policy(folder, sandbox, build_dir_prefix), {ARCH_ENV: arch}, device=device
    )


def _policy(folder: Path, sandbox: SandboxMode, build_dir_prefix: str = "") -> Policy:
    (folder / "tmp").mkdir(mode=0o700, exist_ok=True)
    return child_setup.policy(sandbox, "build", folder / "tmp", build_dir_prefix)


def needs_prebuild(custom_src: str, for_gpu: bool = False) -> bool:
    """Whether a build process has work for this file: a C++/CUDA build, or Triton kernels to compile for a GPU."""
    backend = source_info.detect_backend(custom_src)
    return backend in BUILDS_AT_IMPORT or (backend is Backend.TRITON and for_gpu)


def prebuild(request: EvalRequest, timeout_s: float, arch: str = "") -> float | None:
    """Build the request's custom file into the cache for `arch` (as gpu_arch gives it) in a process that sees no
    GPU, as a build process or a Ray CPU task does. Returns the seconds taken, or None if it failed."""
    args = [request.custom_src, request.build_dir_prefix]
    args += ["--ref", request.ref_src, "--custom-entry-point", request.custom_entry_point]
    args += ["--seed", str(request.seed)]
    started = time.monotonic()
    folder = child_setup.private_folder("build")
    process = start(args, folder, request.sandbox, request.build_dir_prefix, arch=arch)
    try:
        code = process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return None
    finally:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)  # its own group: ninja and the compilers go with it
        process.wait()
        shutil.rmtree(folder, ignore_errors=True)
    return round(time.monotonic() - started, 3) if code == 0 else None


def gpu_arch(device: str) -> str:
    """The build arch of `device` (`sm_XY:<TORCH_CUDA_ARCH_LIST>`, or cpu: stages/compile/arch.py), asked of a
    throwaway process so the caller holds no CUDA context."""
    folder = child_setup.private_folder("arch")
    try:
        # a device other than a GPU: the probe sees none, and says cpu
        gpu = device if device.startswith("cuda") else None
        argv = [sys.executable, "-m", CHILD_MODULE, "--arch"]
        probe = spawn.popen(argv, _policy(folder, SandboxMode.AUTO), device=gpu, stdout=subprocess.PIPE)
        out, _ = probe.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        probe.kill()
        probe.wait()
        out = b""
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return out.decode().strip() or CPU
