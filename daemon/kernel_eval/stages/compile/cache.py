"""Per-user build cache: one directory per custom file and content key, where torch and Triton build.

Layout: <prefix>/<file stem>-<hash of its path>/<key>/{torch_extensions,triton}. key = sha256 of torch version,
CUDA version and GPU arch (`stable_key`): one directory per file across its edits, so ninja recompiles only the
translation units whose text changed (see inline_build) and Triton keeps its own content-keyed cache.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from kernel_eval.errors import fail
from kernel_eval.kinds import MessageKind
from kernel_eval.result import Phase


def default_prefix() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "kernel-eval" / "builds"


def private_prefix(prefix: str = "") -> Path:
    """The build prefix, created 0700. A prefix owned by another user is refused (it could plant binaries)."""
    path = Path(prefix).expanduser().resolve() if prefix else default_prefix()
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = path.stat()
    if info.st_uid != os.getuid():
        raise fail(
            Phase.BUILD,
            MessageKind.UNSAFE_BUILD_DIR,
            f"build directory {path} belongs to another user (uid {info.st_uid})",
            hint="pass --build_dir_prefix with a directory you own",
        )
    if not prefix and stat.S_IMODE(info.st_mode) != 0o700:
        path.chmod(0o700)
    return path


def file_dir(prefix: Path, custom_src: str) -> Path:
    resolved = str(Path(custom_src).resolve())
    return prefix / f"{Path(resolved).stem}-{hashlib.sha256(resolved.encode()).hexdigest()[:10]}"


def build_key(source: bytes, torch_version: str, cuda_version: str, gpu_arch: str) -> str:
    digest = hashlib.sha256(source)
    for part in (torch_version, cuda_version, gpu_arch):
        digest.update(b"\0" + part.encode())
    return digest.hexdigest()[:24]


def stable_key(torch_version: str, cuda_version: str, gpu_arch: str) -> str:
    """The key of a file's build directory: everything but its source, which ninja tracks per translation unit."""
    return build_key(b"", torch_version, cuda_version, gpu_arch)


def clear_file_cache(custom_src: str, prefix: str = "") -> list[str]:
    """Remove every build of `custom_src` (all keys) and return what was removed."""
    folder = file_dir(private_prefix(prefix), custom_src)
    if not folder.exists():
        return []
    shutil.rmtree(folder, ignore_errors=True)
    return [str(folder)]


@contextmanager
def build_lock(key_dir: Path) -> Iterator[None]:
    """Serialise builds of one key across processes, and clear locks left by builds that were killed.

    torch's own FileBaton waits forever on a `lock` file whose owner died. Our flock dies with its holder, so while
    we hold it no live kernel-eval build uses this key, and any torch `lock` file in it is stale.
    """
    key_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    with open(key_dir / ".kernel-eval.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            for stale in (key_dir / "torch_extensions").glob("*/lock"):
                stale.unlink(missing_ok=True)
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def environment(name: str, value: str | None) -> Iterator[None]:
    """While open, the environment variable `name` is `value` (None: left as it is). It is put back on exit."""
    before = os.environ.get(name)
    if value is not None:
        os.environ[name] = value
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before


def triton_helpers(judge: bool = False) -> contextlib.AbstractContextManager[None]:
    """While open, Triton caches under one folder per user: for its C helper (cuda_utils), which it would otherwise
    compile (~0.5 s) into the cache of each new file it runs. Its source is Triton's own, keyed by its hash."""
    return environment("TRITON_CACHE_DIR", str(triton_helpers_folder(judge)))


def triton_helpers_folder(judge: bool = False) -> Path:
    """The candidates' folder lies in the build prefix, which they may write. The judge's lies beside it, where no
    confined process writes, so nothing a candidate plants there is ever loaded by the judge."""
    if judge:
        folder = private_prefix().parent / "judge-triton-helpers"
        folder.mkdir(mode=0o700, exist_ok=True)
        return folder
    return private_prefix() / "triton-helpers"


def point_builds_at(key_dir: Path) -> None:
    """Make load_inline and Triton build and cache under `key_dir` (both read these on every build)."""
    os.environ["TORCH_EXTENSIONS_DIR"] = str(key_dir / "torch_extensions")
    os.environ["TRITON_CACHE_DIR"] = str(key_dir / "triton")
