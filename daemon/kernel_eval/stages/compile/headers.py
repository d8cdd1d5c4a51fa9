"""Lighter headers for a load_inline CUDA source: a text rewrite of its torch include lines only.

`<torch/extension.h>` (and the `<torch/types.h>` load_inline puts first) make nvcc parse all of ATen, autograd and
pybind11: most of a CUDA build's time. A kernel file usually needs only the Tensor class, TORCH_CHECK, a factory or
two (`torch::empty_like`), the dispatch macros and the `torch::` names for ATen. `slim_cuda_source` swaps the torch
include lines for exactly those headers (one per-operator header per op the text calls) and states the `torch::`
aliases that `<torch/types.h>` states. Nothing else in the text changes, so the kernels compile to the same code. When
the guess is wrong the slim build fails and the caller builds the original (see inline_build).
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import attrs

# Include lines the rewrite replaces: the umbrella headers that pull in all of ATen (and autograd, pybind11).
UMBRELLA = re.compile(
    r'^[ \t]*#[ \t]*include[ \t]*[<"](torch/extension\.h|torch/types\.h|torch/torch\.h|torch/all\.h|ATen/ATen\.h)[>"][^\n]*$',
    re.MULTILINE,
)
# Sources using these need what only the umbrella headers give (autograd variables, modules, bindings).
NEEDS_FULL = re.compile(
    r"requires_grad|autograd|torch::nn\b|torch::jit\b|torch::optim\b|pybind11|PYBIND11|\bpy::"
)
QUALIFIED_CALL = re.compile(r"\b(?:torch|at)::([a-z_][a-z0-9_]*)\s*\(")
BARE_CALL = re.compile(r"(?<![\w.>:])([a-z_][a-z0-9_]*)\s*\(")
USING_TORCH = re.compile(r"using\s+namespace\s+(?:torch|at)\s*;")
# Two tiers: lean (the Tensor class, dispatch macros, the ops the text calls) and, for tensor arithmetic on the host
# (`a + b`, `acc / n`), base, whose <ATen/TensorOperators.h> includes every op (<ATen/Functions.h>). Measured with
# nvcc on the CUDA add example (CPU seconds): <torch/extension.h> 103, <ATen/ATen.h> 31, base 31, lean 21.
LEAN_HEADERS = ("ATen/core/Tensor.h", "ATen/Dispatch.h")
BASE_HEADERS = ("ATen/core/Tensor.h", "ATen/TensorOperators.h", "ATen/Dispatch.h")
CUDA_HEADERS = ("cuda.h", "cuda_runtime.h")  # what load_inline's implicit headers add besides <torch/types.h>
# type casters, wrap_pybind_function
BINDING_HEADERS = ("torch/csrc/utils/pybind.h", "torch/csrc/Exceptions.h")
MARK = "// kernel-eval: torch umbrella headers replaced by the headers this source uses (faster build)"


@attrs.frozen
class SlimSource:
    text: str
    headers: tuple[str, ...]
    """What replaced the umbrella headers."""


def torch_include_dir() -> Path:
    import torch

    return Path(torch.__file__).parent / "include"


def slim_cuda_source(
    text: str, include_dir: Path | None = None, base: tuple[str, ...] = BASE_HEADERS
) -> SlimSource | None:
    """The source with its umbrella includes replaced by lighter ones, implicit headers stated. None when the
    source needs the umbrella headers (autograd, nn modules, its own pybind11 module) or the headers are missing."""
    if NEEDS_FULL.search(text):
        return None
    include_dir = include_dir or torch_include_dir()
    if not all((include_dir / header).is_file() for header in base):
        return None
    headers = (*base, *(f"ATen/ops/{op}.h" for op in _called_ops(text, include_dir)))
    prelude = [MARK, *(f"#include <{header}>" for header in (*CUDA_HEADERS, *headers))]
    prelude.append(torch_aliases(str(include_dir)))
    body = UMBRELLA.sub(lambda match: f"// (kernel-eval) was: {match.group(0).strip()}", text)
    # `#line 4`: the user's text keeps the line numbers it has after load_inline's three implicit header lines
    return SlimSource("\n".join([*prelude, "#line 4", body]), headers)


def slim_binding_sources(
    cpp_sources: list[str], include_dir: Path | None = None, base: tuple[str, ...] = BASE_HEADERS
) -> list[str] | None:
    """main.cpp's sources with the `<torch/extension.h>` load_inline puts first replaced by what the generated
    pybind11 binding needs (type casters, wrap_pybind_function) and the `torch::` aliases. None when the C++ sources
    need more (their own umbrella includes, autograd, nn) or the headers are missing."""
    text = "\n".join(cpp_sources)
    if NEEDS_FULL.search(text.replace("pybind11", "")) or UMBRELLA.search(text) or "#include" in text:
        return None
    include_dir = include_dir or torch_include_dir()
    if not all((include_dir / header).is_file() for header in (*BINDING_HEADERS, *base)):
        return None
    prelude = [MARK, *(f"#include <{header}>" for header in (*BINDING_HEADERS, *base))]
    return ["\n".join([*prelude, torch_aliases(str(include_dir))]), *cpp_sources]


def _called_ops(text: str, include_dir: Path) -> list[str]:
    names = set(QUALIFIED_CALL.findall(text))
    if USING_TORCH.search(text):
        names |= set(BARE_CALL.findall(text))
    return sorted(name for name in names if (include_dir / "ATen" / "ops" / f"{name}.h").is_file())


@cache
def torch_aliases(include_dir: str) -> str:
    """The `namespace torch { using namespace at; ... }` block of the installed <torch/types.h> (dtype aliases)."""
    types_h = Path(include_dir) / "torch" / "csrc" / "api" / "include" / "torch" / "types.h"
    try:
        text = types_h.read_text()
    except OSError:
        text = ""
    match = re.search(r"^namespace torch \{.*?^\}[^\n]*namespace torch", text, re.MULTILINE | re.DOTALL)
    if match and "#include" not in match.group(0):
        return match.group(0)
    return "namespace torch {\nusing namespace at; // NOLINT\n} // namespace torch"
