"""What can be read from a user's file without importing it (no torch): class/forward lines, backend."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from kernel_eval.result import Backend, SourceInfo


def read_text(path: str | Path) -> str:
    """The file's text ("" when it cannot be read, with undecodable bytes replaced)."""
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def describe(path: str, entry_point: str) -> SourceInfo:
    info = SourceInfo(file=str(path), entry_point=entry_point)
    info.class_line, info.forward_line = class_and_forward_lines(read_text(path), entry_point)
    return info


def class_and_forward_lines(text: str, name: str) -> tuple[int, int]:
    """1-based lines of the top-level `class <name>` and of its forward (the class line when it has none),
    or 0, 0 when absent. A file that does not parse is searched with a regex, for the class line alone."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        found = re.search(rf"^class\s+{re.escape(name)}\b", text, re.MULTILINE)
        line = text.count("\n", 0, found.start()) + 1 if found else 0
        return line, line
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == name:
            forward = next(
                (
                    item.lineno
                    for item in node.body
                    if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef) and item.name == "forward"
                ),
                node.lineno,
            )
            return node.lineno, forward
    return 0, 0


def parse_or_none(path: str) -> ast.Module | None:
    try:
        return ast.parse(Path(path).read_text(encoding="utf-8", errors="replace"), filename=str(path))
    except (OSError, SyntaxError, ValueError):
        return None


def detect_backend(path: str) -> Backend:
    """CUDA extension, C++-only extension, Triton, or plain PyTorch, from the calls and imports in the file."""
    tree = parse_or_none(path)
    if tree is None:
        return Backend.UNKNOWN
    extension_calls = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and called_name(node.func) in {"load_inline", "load"}
        and _is_cpp_extension(tree)
    ]
    if extension_calls:
        uses_cuda = any(_passes_cuda_sources(call) for call in extension_calls)
        return Backend.CUDA_EXTENSION if uses_cuda else Backend.CPP_EXTENSION
    if _imports(tree, "triton"):
        return Backend.TRITON
    return Backend.PYTORCH


def called_name(func: ast.expr) -> str | None:
    """`f` for `f(...)` and `mod.f(...)`."""
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _is_cpp_extension(tree: ast.Module) -> bool:
    return _imports(tree, "torch.utils.cpp_extension") or "cpp_extension" in ast.unparse(tree)


def _passes_cuda_sources(call: ast.Call) -> bool:
    if called_name(call.func) == "load_inline":
        if any(kw.arg == "cuda_sources" and not _is_empty(kw.value) for kw in call.keywords):
            return True
        return len(call.args) >= 3 and not _is_empty(call.args[2])
    sources = [kw.value for kw in call.keywords if kw.arg == "sources"] + call.args[1:2]
    return any(".cu" in ast.unparse(value) for value in sources)


def _is_empty(node: ast.expr) -> bool:
    return (isinstance(node, ast.Constant) and node.value in (None, "", ())) or (
        isinstance(node, ast.List | ast.Tuple) and not node.elts
    )


def _imports(tree: ast.Module, module: str) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import) and any(
            alias.name == module or alias.name.startswith(module + ".") for alias in node.names
        ):
            return True
        if (
            isinstance(node, ast.ImportFrom)
            and node.module
            and (node.module == module or node.module.startswith(module + "."))
        ):
            return True
    return False


def line_of(path: str, needle: str) -> int:
    """First 1-based line containing `needle` (0 if none)."""
    lines = read_text(path).splitlines()
    return next((i for i, line in enumerate(lines, 1) if needle in line), 0)


def definition_line(text: str, name: str) -> int:
    """1-based line where `name` is bound at the top level (class, def or assignment), or 0 when not found."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return 0
    line = 0
    for node in tree.body:
        if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.name == name:
            line = node.lineno
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(target, ast.Name) and target.id == name for target in targets):
                line = node.lineno
    return line  # the last binding is the one the module ends with
