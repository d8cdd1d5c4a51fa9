"""A load_inline CUDA source as two translation units: its kernels, and its host code.

Most of a CUDA build's time is nvcc parsing the torch headers, which only the host functions (those taking
`torch::Tensor`) need. `split_source` puts the `__global__` kernels, with the `__device__` code, types and macros they
use, in a unit without any torch header (about a second to compile), and gives the host unit each kernel's
declaration in place of its definition. An edit inside a kernel then changes only the kernel unit: the host unit's
text, and so its object, stays as it was.

The split is a text rewrite at the top level of the source (functions, declarations, preprocessor lines). A templated
kernel is instantiated in the kernel unit for the types the host code launches it with (`AT_DISPATCH_FLOATING_TYPES`:
float and double). It gives up (None) on what it cannot place with certainty: templated kernels launched with a type
that needs torch (c10::Half) or of several template parameters, namespace or `extern "C"` blocks, raw strings,
device variables the host code names, plain global variables. The caller builds the source as written when the
split does not build.
"""

from __future__ import annotations

import functools
import re
import subprocess
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
TORCH_NAMES = re.compile(
    r"\b(?:torch|at|c10|py)::|\bnamespace\s+(?:torch|at|c10|py)\b|\bTensor\b|TORCH_|AT_DISPATCH|PYBIND11|pybind11"
)
IDENTIFIER = re.compile(r"[A-Za-z_]\w*")
DEVICE_VARIABLE = re.compile(r"\b(?:__constant__|__device__|__managed__|__shared__)\b")
TEMPLATE_HEAD = re.compile(r"template\s*<\s*(?:typename|class)\s+(\w+)\s*>\s*")
# The types a torch dispatch macro runs scalar_t over, for those whose types need no torch header.
FLOATING = ("float", "double")
INTEGRAL = ("uint8_t", "int8_t", "int16_t", "int", "int64_t")
DISPATCHED = {"FLOATING_TYPES": FLOATING, "INTEGRAL_TYPES": INTEGRAL, "ALL_TYPES": (*INTEGRAL, *FLOATING)}
PLAIN_TYPES = {
    "float",
    "double",
    "int",
    "int64_t",
    "int32_t",
    "uint8_t",
    "int8_t",
    "int16_t",
    "bool",
    "__half",
}
SAFE_DECLARATION = re.compile(
    r"^\s*(?:(?:static|inline|constexpr|const|typedef|using|struct|class|union|enum|template|extern|"
    r"__forceinline__|__host__|__device__|__global__)\b|#)"
)


@attrs.frozen
class Split:
    kernels: str
    """The kernel unit: prelude, macros, types, device code, kernels."""
    host: str
    """The host unit: the source without device code, each kernel declared."""
    names: tuple[str, ...]
    """The kernels, in order."""
    templated: bool = False
    """A templated kernel is launched across units: see template_stub_flags."""


@attrs.frozen
class _Item:
    text: str
    kind: str
    """One of "pre" (a preprocessor line), "function" (with a body), "declaration"."""
    header: str = ""
    """A function's text before its body."""


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
    templates: list[tuple[str, str, str]] = []  # (name, header, type parameter) of templated kernels
    for item in items:
        if item.kind == "pre":
            host.append(item.text)
            if not TORCH_INCLUDE.match(item.text.lstrip()):
                kernels.append(item.text)
            continue
        if item.kind == "function":
            head_code = _uncommented(item.header).strip()  # a comment naming __global__ must not count
            role = _function_role(head_code)
            if role is None:
                return None
            if role in ("kernel", "template"):
                names.append(_function_name(head_code))
                kernels.append(_without_static(item.text))
                host.append(_without_static(item.header).rstrip() + ";")
                if role == "template":
                    head = TEMPLATE_HEAD.match(head_code)
                    if head is None:
                        return None
                    templates.append((names[-1], head_code, head[1]))
            elif role == "device":
                kernels.append(item.text)
            elif _inline(head_code) and (role == "both" or not TORCH_NAMES.search(_uncommented(item.text))):
                kernels.append(item.text)  # defined in both units: inline, so it links once
                host.append(item.text)
            elif role == "both":
                kernels.append(item.text)
                host.append(item.header.rstrip() + ";")
            else:
                host.append(item.text)
                host_code.append(item.text)
            continue
        placed = _declaration_place(_uncommented(item.text).strip())
        if placed is None:
            return None
        if placed == "device":
            device_variables.append(_declared_name(_uncommented(item.text)))
            kernels.append(item.text)
        elif placed == "host":
            host.append(item.text)
            host_code.append(item.text)
        else:
            kernels.append(item.text)
            host.append(item.text)
    code = "\n".join(host_code)
    if not names or any(re.search(rf"\b{re.escape(v)}\b", code) for v in device_variables if v):
        return None
    for name, header, type_parameter in templates:
        types = _launched_types(name, code)
        if not types:
            return None
        kernels.extend(_instantiation(header, name, type_parameter, type_) for type_ in types)
    return Split("\n".join(kernels) + "\n", "\n".join(host) + "\n", tuple(names), bool(templates))


@functools.cache
def template_stub_flags(nvcc: str) -> tuple[str, ...]:
    """nvcc ≥ 12.8 gives the host stubs of templated kernels internal linkage unless told otherwise, so a
    specialization instantiated in one unit could not be launched from the other."""
    try:
        done = subprocess.run([nvcc, "--help"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return ()
    return ("-static-global-template-stub=false",) if "static-global-template-stub" in done.stdout else ()


def _launched_types(name: str, host_code: str) -> list[str]:
    """The types the host code launches a templated kernel with, spelled without torch, or [] when one is not
    known (a dispatch that includes c10::Half, a type of the user's own, a second template argument)."""
    types: list[str] = []
    for argument in re.findall(rf"\b{re.escape(name)}\s*<([^<>;]*)>", host_code):
        argument = argument.strip()
        if argument == "scalar_t":
            macros = set(re.findall(r"\bAT_DISPATCH_(\w+?)\s*\(", host_code))
            if not macros or not macros <= DISPATCHED.keys():
                return []
            found = [t for macro in sorted(macros) for t in DISPATCHED[macro]]
        elif argument in PLAIN_TYPES:
            found = [argument]
        else:
            return []
        types += [t for t in found if t not in types]
    return types


def _instantiation(header: str, name: str, parameter: str, type_: str) -> str:
    """`template __global__ void k<float>(const float* x, …);`: the kernel unit compiles the specialization the
    host unit launches."""
    declared = _without_attributes(_without_static(TEMPLATE_HEAD.sub("", header.lstrip(), count=1)))
    declared = re.sub(rf"\b{re.escape(name)}\s*\(", f"{name}<{type_}>(", declared, count=1)
    head, params = declared.split("(", 1)
    return (
        "template "
        + head.strip()
        + "("
        + re.sub(rf"\b{re.escape(parameter)}\b", type_, params).rstrip()
        + ";"
    )


def _function_role(header: str) -> str | None:
    words = set(IDENTIFIER.findall(_without_attributes(header)))
    if "__global__" in words:
        return "template" if "template" in words else "kernel"
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
    if DEVICE_VARIABLE.search(text) and "(" not in text.split("=")[0]:
        return "device"
    if TORCH_NAMES.search(text):
        return "host"
    if re.match(r"\s*(?:namespace|extern\s*\"C\")", text):
        return None
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
    """The top-level items of a C++ source, comments kept with the item they precede. None when the text has
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
    code = _uncommented(header).strip()
    if not code.endswith(")") and not re.search(r"\)\s*(?:const|noexcept|override|->[^=]*)\s*$", code):
        return bool(re.match(r"(?:namespace|extern\s*\"C\")", code))  # a block: the split gives up on it
    return "=" not in code.split("(", 1)[0] and not re.match(r"(?:struct|class|union|enum)\b", code)


def _uncommented(text: str) -> str:
    return re.sub(r"//[^\n]*|/\*.*?\*/", "", text, flags=re.DOTALL)


def _only_comments(text: str) -> bool:
    return not _uncommented(text).strip()


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
