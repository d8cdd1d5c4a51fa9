"""The private names of `torch.utils.cpp_extension` that inline builds swap while load_inline runs.

While `swapped` is open, load_inline builds without importing (its importer returns `Built`), keeps the extension's
name across rebuilds (`FixedVersion`), and hands the ninja runs of the build directories it is told about to the
caller. The built library is then imported by `import_copy`. Everything torch-private that inline_build relies on
is named here.
"""

from __future__ import annotations

import hashlib
import importlib.util
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import attrs

HOOKS = ("_import_module_from_library", "_run_ninja_build", "JIT_EXTENSION_VERSIONER", "LIB_EXT")

# runs ninja in a build directory it knows (True), or says it does not know it (False: torch's own runner runs)
NinjaRunner = Callable[[str, str], bool]


@attrs.define
class Built:
    """What the patched importer returns during a build: the library, not imported."""

    library: Path


class FixedVersion:
    """Stands in for torch's ExtensionVersioner: always version 0, so the extension keeps its name (and its
    command lines) across rebuilds in one process. ninja decides what is stale."""

    def get_version(self, name: str) -> None:
        return None

    def bump_version_if_changed(self, name: str, *args: Any, **kwargs: Any) -> int:
        return 0


def available(cpp_extension: Any) -> bool:
    """Whether this torch has every name that `swapped` replaces."""
    return all(hasattr(cpp_extension, hook) for hook in HOOKS)


@contextmanager
def swapped(cpp_extension: Any, run_ninja: NinjaRunner) -> Iterator[None]:
    """While open, load_inline returns `Built` instead of a module, keeps its version, and runs ninja through
    `run_ninja`. Put back on exit."""
    saved = {hook: getattr(cpp_extension, hook) for hook in HOOKS}

    def ninja(build_directory: str, verbose: bool, error_prefix: str) -> None:
        if not run_ninja(build_directory, error_prefix):
            saved["_run_ninja_build"](build_directory, verbose, error_prefix)

    cpp_extension._import_module_from_library = lambda module_name, path, is_python_module: Built(
        Path(path) / f"{module_name}{saved['LIB_EXT']}"
    )
    cpp_extension._run_ninja_build = ninja
    cpp_extension.JIT_EXTENSION_VERSIONER = FixedVersion()
    try:
        yield
    finally:
        for hook, value in saved.items():
            setattr(cpp_extension, hook, value)


def import_copy(cpp_extension: Any, library: Path, name: str, is_python_module: bool) -> Any:
    """Import `library` from a copy named by its content, as `_kernel_eval_<digest>.<name>`: dlopen caches by path
    and pybind11 (3.x) caches modules by their spec name, so one process never mistakes a rebuilt library for one
    it loaded before, while the library keeps its name (PyInit_<name>, the part after the dot). Older copies are
    removed."""
    digest = hashlib.sha256(library.read_bytes()).hexdigest()[:16]
    loaded = library.parent.parent / ".loaded"
    target = loaded / digest / library.name
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".partial")
        shutil.copy2(library, partial)
        partial.replace(target)
    for old in loaded.iterdir():
        if old.name != digest and old.is_dir() and (old / library.name).exists():
            shutil.rmtree(old, ignore_errors=True)
    if not is_python_module:
        return cpp_extension._import_module_from_library(name, str(target.parent), is_python_module)
    spec = importlib.util.spec_from_file_location(f"_kernel_eval_{digest}.{name}", target)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import the extension library {target}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
