"""A load_inline CUDA source as two translation units: its kernels, and its host code.

Most of a CUDA build's time is nvcc parsing the torch headers, which only the host functions (those taking
`torch::Tensor`) need. `split_source` puts the `__global__` kernels, with the `__device__` code, types and macros they
use, in a unit without any torch header (about a second to compile), and gives the host unit each kernel's
declaration in place of its definition. An edit inside a kernel then changes only the kernel unit: the host unit's
text, and so its object, stays as it was.

The split is a text rewrite at the top level of the source (functions, declarations, preprocessor lines); it gives up
(None) on what it cannot place with certainty: templated kernels (their instantiations live in the host code),
namespace or `extern "C"` blocks, raw strings, device variables the host code names, plain global variables. The
caller builds the source as written when the split does not build.
"""

from __future__ import annotations

import re
from pathlib import Path

import attrs

# Standard and CUDA headers the kernel unit states: the torch headers it no longer includes brought them in.
KERNEL_PRELUDE = (
    "cuda_runtime.h",
    "cuda_fp16.h",
    "cuda_bf16.h",
    "cstdint",
    "cstddef",
    "cfloat",
    "climits",
    "cmath",
    "limits",
    "type_traits",
)
MARK = "// kernel-eval: the kernels of this source, without torch headers (the host code is built apart)"
TORCH_INCLUDE = re.compile(r'#\s*include\s*[<"](?:torch|ATen|c10|pybind11|caffe2)/')
TORCH_NAMES = re.compile(r"\b(?:torch|at|c10|py)::|\bTensor\b|TORCH_|AT_DISPATCH|PYBIND11")
IDENTIFIER = re.compile(r"[A-Za-z_]\w*")
DEVICE_VARIABLE = re.compile(r"\b(?:__constant__|__device__|__managed__|__shared__)\b")
SAFE_DECLARATION = re.compile(
    r"^\s*(?:(?:static|inline|constexpr|const|typedef|using|struct|class|union|enum|template|extern|"
    r"__forceinline__|__host__|__device__|__global__)\b|#)"
)


@attrs.frozen
class Split:
    kernels: str  # the kernel unit: prelude, macros, types, device code, kernels
    host: str  # the host unit: the source without device code, each kernel declared
    names: tuple[str, ...]  # the kernels, in order


@attrs.frozen
class _Item:
    text: str
    kind: str  # "pre" (a preprocessor line), "function" (with a body), "declaration"
    header: str = ""  # a function's text before its body


def split_source(text: str) -> Split | None:
    """The kernel and host units of a CUDA source, or None when it cannot be split with certainty."""
    items = _items(text)
    if items is None:
        return None
    kernels: list[str] = [MARK, *(f"#include <{header}>" for header in KERNEL_PRELUDE)]
    host: list[str] = []
    names: list[str] = []
    device_variables: list[str] = []
    host_code: list[str] = []
    for item in items:
        if item.kind == "pre":
            host.append(item.text)
            if not TORCH_INCLUDE.match(item.text.lstrip()):
                kernels.append(item.text)
            continue
        if item.kind == "function":
            role = _function_role(item.header)
            if role is None:
                return None
            if role == "kernel":
                names.append(_function_name(item.header))
                kernels.append(_without_static(item.text))
                host.append(_without_static(item.header).rstrip() + ";")
            elif role == "device":
                kernels.append(item.text)
            elif _inline(item.header) and (role == "both" or not TORCH_NAMES.search(item.text)):
                kernels.append(item.text)  # defined in both units: inline, so it links once
                host.append(item.text)
            elif role == "both":
                kernels.append(item.text)
                host.append(item.header.rstrip() + ";")
            else:
                host.append(item.text)
                host_code.append(item.text)
            continue
        placed = _declaration_place(item.text)
        if placed is None:
            return None
        if placed == "device":
            device_variables.append(_declared_name(item.text))
            kernels.append(item.text)
        elif placed == "host":
            host.append(item.text)
            host_code.append(item.text)
        else:
            kernels.append(item.text)
            host.append(item.text)
    if not names or any(
        re.search(rf"\b{re.escape(v)}\b", "\n".join(host_code)) for v in device_variables if v
    ):
        return None
    return Split("\n".join(kernels) + "\n", "\n".join(host) + "\n", tuple(names))


def _function_role(header: str) -> str | None:
    words = set(IDENTIFIER.findall(_without_attributes(header)))
    if "__global__" in words:
        return None if "template" in words else "kernel"
    if "__device__" in words:
        return "both" if "__host__" in words else "device"
    if {"namespace", "extern"} & words or re.search(r'extern\s*"C"', header):
        return None  # a block of items, not a function
    if header.lstrip().startswith(("struct", "class", "union", "enum")):
        return None
    return "host"


def _inline(header: str) -> bool:
    return bool(
        set(IDENTIFIER.findall(header)) & {"inline", "constexpr", "static", "template", "__forceinline__"}
    )


def _declaration_place(text: str) -> str | None:
    """Where a top-level declaration goes: "device" (a device variable), "host" (names torch), "both" (types,
    constants, prototypes of device code), or None (a plain global variable: defined twice, it would not link)."""
    if re.match(r"\s*(?:namespace|extern\s*\"C\")", text):
        return None
    if DEVICE_VARIABLE.search(text) and "(" not in text.split("=")[0]:
        return "device"
    if TORCH_NAMES.search(text):
        return "host"
    if SAFE_DECLARATION.match(text) or "(" in text.split("=")[0]:
        return "both"  # a type, a constant, an alias, or a function prototype
    return None


def _declared_name(text: str) -> str:
    head = re.split(r"[\[=;]", text, maxsplit=1)[0]
    found = IDENTIFIER.findall(head)
    return found[-1] if found else ""


def _function_name(header: str) -> str:
    before = _without_attributes(header).split("(", 1)[0]
    found = IDENTIFIER.findall(before)
    return found[-1] if found else ""


def _without_static(text: str) -> str:
    """A kernel defined in one unit and launched from the other needs external linkage."""
    return re.sub(r"^(\s*)static\s+", r"\1", text, count=1)


def _without_attributes(header: str) -> str:
    return re.sub(r"__launch_bounds__\s*\([^)]*\)", "", header)


def _items(text: str) -> list[_Item] | None:
    """The top-level items of a C++ source, comments kept with the item they precede; None when the text has
    what this scanner does not follow (raw strings, unbalanced braces)."""
    if 'R"' in text:
        return None
    items: list[_Item] = []
    start = index = 0
    depth = parens = 0
    body_at = -1
    at_line_start = True
    while index < len(text):
        char = text[index]
        if char == "\n":
            at_line_start = True
            index += 1
            continue
        if at_line_start and char in " \t":
            index += 1
            continue
        if at_line_start and char == "#" and depth == 0 and _only_comments(text[start:index]):
            end = _line_end(text, index)
            pending = text[start:index]
            items.append(_Item(pending + text[index:end], "pre"))
            start = index = end
            continue
        at_line_start = False
        if text.startswith("//", index):
            index = _line_end(text, index)
            continue
        if text.startswith("/*", index):
            close = text.find("*/", index + 2)
            if close < 0:
                return None
            index = close + 2
            continue
        if char in "\"'":
            index = _literal_end(text, index)
            if index < 0:
                return None
            continue
        if char == "(":
            parens += 1
        elif char == ")":
            parens -= 1
        elif char == "{":
            if depth == 0 and body_at < 0:
                body_at = index
            depth += 1
        elif char == "}":
            depth -= 1
            if depth < 0:
                return None
            if depth == 0 and _is_function(text[start:body_at]):
                items.append(_Item(text[start : index + 1], "function", text[start:body_at]))
                start, body_at = index + 1, -1
        elif char == ";" and depth == 0 and parens == 0:
            items.append(_Item(text[start : index + 1], "declaration"))
            start, body_at = index + 1, -1
        index += 1
    if depth != 0 or parens != 0 or text[start:].strip():
        return None if text[start:].strip() and not _only_comments(text[start:]) else items
    return items


def _is_function(header: str) -> bool:
    """A function definition's header: a parameter list, and not a type, namespace or initializer."""
    code = re.sub(r"//[^\n]*|/\*.*?\*/", "", header, flags=re.DOTALL).strip()
    if not code.endswith(")") and not re.search(r"\)\s*(?:const|noexcept|override|->[^=]*)\s*$", code):
        return bool(re.match(r"(?:namespace|extern\s*\"C\")", code))  # a block: the split gives up on it
    return "=" not in code.split("(", 1)[0] and not re.match(r"(?:struct|class|union|enum)\b", code)


def _only_comments(text: str) -> bool:
    return not re.sub(r"//[^\n]*|/\*.*?\*/", "", text, flags=re.DOTALL).strip()


def _line_end(text: str, index: int) -> int:
    """Past the end of the line at `index`, following backslash continuations."""
    while True:
        end = text.find("\n", index)
        if end < 0:
            return len(text)
        if not text[:end].rstrip("\r").endswith("\\"):
            return end + 1
        index = end + 1


def _literal_end(text: str, index: int) -> int:
    quote = text[index]
    index += 1
    while index < len(text):
        if text[index] == "\\":
            index += 2
            continue
        if text[index] == quote:
            return index + 1
        if text[index] == "\n":
            return -1
        index += 1
    return -1


KERNEL_UNIT = "kernels.cu"
KERNEL_OBJECT = "kernels.cuda.o"


def add_kernel_unit(build_dir: Path, kernels: str) -> None:
    """Write the kernel unit beside load_inline's sources and add its object to the build.ninja torch wrote: compiled
    by the same `cuda_compile` rule (torch's nvcc flags, the user's extra_cuda_cflags) and linked into the library."""
    unit = build_dir / KERNEL_UNIT
    if not unit.exists() or unit.read_text() != kernels:
        unit.write_text(kernels)  # untouched when unchanged: ninja goes by its mtime
    manifest = build_dir / "build.ninja"
    lines = manifest.read_text().splitlines()
    if any(line.startswith(f"build {KERNEL_OBJECT}:") for line in lines):
        return
    link = next((i for i, line in enumerate(lines) if re.match(r"build \S+: link ", line)), None)
    if link is None or not any(line.startswith("rule cuda_compile") for line in lines):
        raise RuntimeError(f"{manifest} has no CUDA link step to add the kernel unit to")
    lines[link] += f" {KERNEL_OBJECT}"
    lines.insert(link, f"build {KERNEL_OBJECT}: cuda_compile {unit.resolve()}\n")
    manifest.write_text("\n".join(lines) + "\n")
