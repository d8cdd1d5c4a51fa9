"""Build-only loads: import a custom file in a throwaway process so its extension lands in the build cache.

The batch runs these on every CPU core while the lanes evaluate other pairs; the lane's own load of the same source
is then a cache hit (the cache is keyed by file, source, torch/CUDA version and GPU arch; the build lock makes a
lane that arrives mid-build wait for it instead of building twice). Files that build at import (load_inline with
C++/CUDA sources) are imported; Triton files, given their reference, run one forward that compiles their kernels
for the lanes' arch and launches nothing (stages/compile/triton_ahead.py). A failed or hung prebuild is ignored:
the evaluation itself reports the error.

Run as `python -m kernel_eval.batch.prebuild CUSTOM_SRC [BUILD_DIR_PREFIX [DRAFT]] [--ref REF_SRC ...]` (DRAFT: a
file holding the unsaved text of CUSTOM_SRC, built into CUSTOM_SRC's cache; engine/drafts.py) with
CUDA_VISIBLE_DEVICES set to the GPU whose arch the build targets (empty: CPU), or KERNEL_EVAL_PREBUILD_ARCH=sm_XY to
build for an arch with no GPU visible (`sm_90:9.0+PTX`: the cache key's arch, then the arch list torch would build
for on that GPU). `python -m kernel_eval.batch.prebuild --arch` prints that for the visible GPU (cpu without one).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from kernel_eval import source_info
from kernel_eval.engine import spawn
from kernel_eval.engine.processes import cuda_visible_devices
from kernel_eval.request import EvalRequest
from kernel_eval.result import Backend, SandboxMode

BUILDS_AT_IMPORT = (Backend.CUDA_EXTENSION, Backend.CPP_EXTENSION)
ARCH_ENV = "KERNEL_EVAL_PREBUILD_ARCH"
BACKGROUND_NICENESS = 10


def start(
    args: list[str],
    folder: Path,
    sandbox: SandboxMode = SandboxMode.AUTO,
    build_dir_prefix: str = "",
    cuda_visible: str = "",
    arch: str = "",
    stdout: int = subprocess.DEVNULL,
) -> subprocess.Popen[bytes]:
    """A build process (`args` as for this module), confined (engine/spawn.py), its temporary folder in `folder`,
    these GPUs visible (none: ""), building for `arch`."""
    (folder / "tmp").mkdir(mode=0o700, exist_ok=True)
    confinement = spawn.policy(sandbox, "build", folder / "tmp", build_dir_prefix)
    extra = {"CUDA_VISIBLE_DEVICES": cuda_visible, ARCH_ENV: arch}
    argv = [sys.executable, "-m", "kernel_eval.batch.prebuild", *args]
    return spawn.popen(
        argv, confinement, extra, stdin=subprocess.DEVNULL, stdout=stdout, stderr=subprocess.DEVNULL
    )


def needs_prebuild(custom_src: str, for_gpu: bool = False) -> bool:
    """Whether a build process has work for this file: a C++/CUDA build, or Triton kernels to compile for a GPU."""
    backend = source_info.detect_backend(custom_src)
    return backend in BUILDS_AT_IMPORT or (backend is Backend.TRITON and for_gpu)


def prebuild(request: EvalRequest, timeout_s: float, arch: str = "") -> float | None:
    """Build the request's custom file into the cache for `arch` (as gpu_arch gives it) in a process that sees no
    GPU, as a build process or a Ray CPU task does; seconds taken, or None if it failed."""
    args = [request.custom_src, request.build_dir_prefix]
    args += ["--ref", request.ref_src, "--custom-entry-point", request.custom_entry_point]
    args += ["--seed", str(request.seed)]
    started = time.monotonic()
    folder = spawn.private_folder("build")
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


def _main(argv: list[str]) -> int:
    from kernel_eval.sandbox import confine

    confine.at_start()  # first, while this is the only thread
    os.nice(BACKGROUND_NICENESS)  # builds yield the cores to the workers that are starting or timing kernels
    parser = argparse.ArgumentParser(prog="python -m kernel_eval.batch.prebuild")
    parser.add_argument("custom_src")
    parser.add_argument("build_dir_prefix", nargs="?", default="")
    parser.add_argument("draft", nargs="?", default="")
    parser.add_argument("--ref", default="", help="the reference, whose inputs a Triton forward compiles on")
    parser.add_argument("--custom-entry-point", default="ModelNew")
    parser.add_argument("--seed", type=int, default=42)
    options = parser.parse_args(argv)
    return _build(options)


def _build(options: argparse.Namespace) -> int:
    import torch

    from kernel_eval.sandbox import confine
    from kernel_eval.stages import load
    from kernel_eval.stages.compile import cache, inline_build, triton_ahead

    custom_src, build_dir_prefix, draft = options.custom_src, options.build_dir_prefix, options.draft

    arch, _, arch_list = os.environ.get(ARCH_ENV, "").partition(":")
    if arch.startswith("sm_"):
        # Build for that arch without a GPU, with the flags torch would choose on the lane's GPU (a user's own
        # TORCH_CUDA_ARCH_LIST reaches the lanes too, and stays): the same build command, so ninja has no work later.
        if os.environ.get("TORCH_CUDA_ARCH_LIST", "native") == "native":
            os.environ["TORCH_CUDA_ARCH_LIST"] = arch_list
    elif torch.cuda.is_available():
        arch = _visible_arch()[0]
    else:
        arch = "cpu"
    if arch == "cpu":
        os.environ["TRITON_INTERPRET"] = "1"
    file = str(Path(custom_src).resolve())
    if draft:
        # the unsaved text of `file`, built into its cache; its own folder's helper modules stay importable
        sys.path.insert(0, str(Path(file).parent))
    key = cache.stable_key(torch.__version__, torch.version.cuda or "", arch)
    key_dir = cache.file_dir(cache.private_prefix(build_dir_prefix), file) / key
    if confine.refusal():
        return 3  # --sandbox strict on a host without every protection: the evaluation says so
    reads = [os.path.dirname(os.path.abspath(p)) for p in (draft, options.ref) if p]
    confine.to_file(str(key_dir), str(Path(file).parent), reads, [str(cache.triton_helpers_folder())])
    cache.point_builds_at(key_dir)
    # the lane's candidate builds with the same levers, for the lane's arch: its build finds nothing to do
    builds = inline_build.for_key_dir(key_dir, arch_list.split("+")[0] if arch.startswith("sm_") else None)
    triton = source_info.detect_backend(file) is Backend.TRITON
    ahead = arch.startswith("sm_") and options.ref and triton and not draft
    with cache.build_lock(key_dir), builds.installed():
        if ahead:
            triton_ahead.compile_ahead(file, options.custom_entry_point, options.ref, arch, options.seed)
        else:
            load.import_file(draft or file, "custom")
    return 0


def gpu_arch(device: str) -> str:
    """The build arch of `device` (`sm_XY:<TORCH_CUDA_ARCH_LIST>`, or cpu), asked of a throwaway process so the
    caller holds no CUDA context."""
    folder = spawn.private_folder("arch")
    try:
        probe = start(
            ["--arch"], folder, cuda_visible=cuda_visible_devices(device) or "", stdout=subprocess.PIPE
        )
        out, _ = probe.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        probe.kill()
        probe.wait()
        out = b""
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return out.decode().strip() or "cpu"


def _visible_arch() -> tuple[str, str]:
    """(sm_XY of visible GPU 0, the TORCH_CUDA_ARCH_LIST torch's cpp_extension picks for it when none is set)."""
    import torch

    capability = torch.cuda.get_device_capability(0)
    supported = [
        int("".join(c for c in a.split("_")[1] if c.isdigit()))
        for a in torch.cuda.get_arch_list()
        if "sm_" in a
    ]
    clamped = min(max((sm // 10, sm % 10) for sm in supported), capability) if supported else capability
    return "sm_{}{}".format(*capability), f"{clamped[0]}.{clamped[1]}+PTX"


if __name__ == "__main__":
    if sys.argv[1] == "--arch":
        import torch

        print(":".join(_visible_arch()) if torch.cuda.is_available() else "cpu")
        sys.exit(0)
    sys.exit(_main(sys.argv[1:]))
