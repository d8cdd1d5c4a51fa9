"""A stand-in for torch's load_inline in the build tests: it notes each build directory and fails where asked."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from kernel_eval.stages.compile.torch_hooks import Built

# (build directory, the CUDA sources as one text) -> the build error to raise there, or None: it builds
BuildError = Callable[[Path, str], "str | None"]


def fake_load_inline(tried: list[str], error: BuildError) -> Callable[..., Built]:
    """load_inline that appends each build directory's name to `tried` and raises `error`'s message as torch does
    (RuntimeError) where it gives one; otherwise the library is `<build directory>/ext.so`."""

    def load_inline(  # the parameters inline_build reads from the call, with torch's defaults
        name: str,
        cpp_sources: Any,
        cuda_sources: Any = None,
        functions: Any = None,
        build_directory: str = "",
        is_python_module: bool = True,
        no_implicit_headers: bool = False,
    ) -> Built:
        folder = Path(build_directory)
        tried.append(folder.name)
        message = error(folder, "".join(cuda_sources or ()))
        if message is not None:
            raise RuntimeError(message)
        return Built(folder / "ext.so")

    return load_inline
