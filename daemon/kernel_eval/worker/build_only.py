"""Build-only process, child side: import a custom file in a throwaway process so its extension lands in the build
cache (the parent side is engine/builds.py).

Files that build at import (load_inline with C++/CUDA sources) are imported. Triton files, given their reference,
run one forward that compiles their kernels for the lanes' arch and launches nothing
(stages/compile/triton_ahead.py). The build goes through the candidate's BuildTarget (stages/compile/target.py):
the same cache folder, levers and arch, so the candidate's own build finds nothing to do.

Run as `python -m kernel_eval.worker.build_only CUSTOM_SRC [BUILD_DIR_PREFIX [DRAFT]] [--ref REF_SRC ...]` (DRAFT:
a file holding the unsaved text of CUSTOM_SRC, built into CUSTOM_SRC's cache; lsp/draft_builds.py) with
CUDA_VISIBLE_DEVICES set to the GPU whose arch the build targets (empty: CPU), or KERNEL_EVAL_PREBUILD_ARCH=sm_XY to
build for an arch with no GPU visible (`sm_90:9.0+PTX`: the cache key's arch, then the arch list torch would build
for on that GPU). `python -m kernel_eval.worker.build_only --arch` prints that for the visible GPU (cpu without
one).
"""

from __future__ import annotations

import argparse
import os
import sys

from kernel_eval.stages.compile import arch as build_arch
from kernel_eval.stages.compile.arch import ARCH_ENV

BACKGROUND_NICENESS = 10


def main(argv: list[str]) -> int:
    from kernel_eval.sandbox import confine

    confine.at_start()  # first, while this is the only thread
    os.nice(BACKGROUND_NICENESS)  # builds yield the cores to the workers that are starting or timing kernels
    parser = argparse.ArgumentParser(prog="python -m kernel_eval.worker.build_only")
    parser.add_argument("custom_src")
    parser.add_argument("build_dir_prefix", nargs="?", default="")
    parser.add_argument("draft", nargs="?", default="")
    parser.add_argument("--ref", default="", help="the reference, whose inputs a Triton forward compiles on")
    parser.add_argument("--custom-entry-point", default="ModelNew")
    parser.add_argument("--seed", type=int, default=42)
    options = parser.parse_args(argv)
    return _build(options)


def _build(options: argparse.Namespace) -> int:
    from kernel_eval import source_info
    from kernel_eval.result import Backend
    from kernel_eval.sandbox import confine
    from kernel_eval.stages import load
    from kernel_eval.stages.compile import cache, triton_ahead
    from kernel_eval.stages.compile.target import BuildTarget

    draft = options.draft
    # given: built for a GPU this process does not see, with the flags torch would choose on it
    given = build_arch.BuildArch.parse(os.environ.get(ARCH_ENV, ""))
    arch = given or build_arch.of_visible()
    if not arch.is_gpu:
        os.environ["TRITON_INTERPRET"] = "1"
    target = BuildTarget.of(options.custom_src, options.build_dir_prefix, arch, gpu_absent=given is not None)
    if draft:
        # the unsaved text of the file, built into its cache. Its own folder's helper modules stay importable
        sys.path.insert(0, str(target.folder))
    if confine.refusal():
        return 3  # --sandbox strict on a host without every protection: the evaluation says so
    reads = [os.path.dirname(os.path.abspath(p)) for p in (draft, options.ref) if p]
    target.confine(reads, [str(cache.triton_helpers_folder())])
    triton = source_info.detect_backend(target.file) is Backend.TRITON
    ahead = arch.is_gpu and options.ref and triton and not draft
    with target.building():
        if ahead:
            triton_ahead.compile_ahead(
                target.file, options.custom_entry_point, options.ref, arch.key, options.seed
            )
        else:
            load.import_file(draft or target.file, "custom")
    return 0


if __name__ == "__main__":
    if sys.argv[1] == "--arch":
        print(build_arch.of_visible().spelled())
        sys.exit(0)
    sys.exit(main(sys.argv[1:]))
