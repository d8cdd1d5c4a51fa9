"""One custom file's build: where it builds, for which arch, with what environment, under which lock.

The candidate worker and the build-only process (worker/build_only.py) both build through a `BuildTarget`, so for
the same file, torch and arch they agree on the cache folder and on every ninja command line: a build made by one
is a cache hit for the other.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import attrs

from kernel_eval.sandbox import confine
from kernel_eval.stages.compile import cache, inline_build
from kernel_eval.stages.compile.arch import BuildArch
from kernel_eval.stages.compile.inline_build import Levers


@attrs.frozen
class BuildTarget:
    """The build of `file` (resolved) into `key_dir`, for `arch`."""

    file: str
    key_dir: Path
    arch: BuildArch
    # Built for a GPU this process cannot see: torch is told the arch list it would pick on that GPU.
    gpu_absent: bool = False

    @classmethod
    def of(
        cls, custom_src: str, build_dir_prefix: str, arch: BuildArch, gpu_absent: bool = False
    ) -> BuildTarget:
        """The target of `custom_src` in the build cache under `build_dir_prefix` ("" for the default one)."""
        import torch

        file = str(Path(custom_src).resolve())
        key = cache.stable_key(torch.__version__, torch.version.cuda or "", arch.key)
        key_dir = cache.file_dir(cache.private_prefix(build_dir_prefix), file) / key
        return cls(file, key_dir, arch, gpu_absent)

    @property
    def folder(self) -> Path:
        """The file's own folder: its helper modules import from there."""
        return Path(self.file).parent

    def clear(self) -> None:
        """Remove what earlier builds left in `key_dir`: its contents, as a confined worker may not remove the
        folder itself."""
        if not self.key_dir.is_dir():
            return
        for entry in self.key_dir.iterdir():
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)

    def confine(self, extra_reads: Iterable[str] = (), extra_writes: Iterable[str] = ()) -> None:
        """Narrow this process's reads and writes to what the build and the file's import need (sandbox/confine.py)."""
        confine.to_file(str(self.key_dir), str(self.folder), extra_reads, extra_writes)

    @contextmanager
    def building(self) -> Iterator[Levers]:
        """While open, load_inline and Triton build into `key_dir` with the build levers (inline_build.py), and no
        other kernel-eval build of this key runs. Yields what the levers did."""
        if self.gpu_absent and os.environ.get("TORCH_CUDA_ARCH_LIST", "native") == "native":
            # a user's own TORCH_CUDA_ARCH_LIST reaches the candidate too, and stays
            os.environ["TORCH_CUDA_ARCH_LIST"] = self.arch.native_list
        cache.point_builds_at(self.key_dir)
        builds = inline_build.for_key_dir(self.key_dir, self.arch.torch_list)
        with cache.build_lock(self.key_dir), builds.installed() as levers:
            yield levers
