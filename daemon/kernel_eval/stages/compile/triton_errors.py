"""Where in the user's .py a Triton kernel failed to compile or, under TRITON_INTERPRET=1, to run."""

from __future__ import annotations

import ast
import os
import re
import traceback
import types
from collections.abc import Iterator, Mapping
from typing import Any

from kernel_eval.result import Location
from kernel_eval.source_info import read_text


def triton_error_location(
    exc: BaseException, module_file: str, module_globals: Mapping[str, Any] | None = None
) -> Location | None:
    """Where in module_file a Triton kernel failed to compile or (under TRITON_INTERPRET=1) to run.

    Compiled path: triton's CompilationError carries the @triton.jit function's source (.src) and the AST node
    (.node, lines relative to the 'def' line). The innermost such error that belongs to a function of
    module_file wins, so an error inside a helper kernel points at the helper, not at its call. Interpreter
    path (and any other exception): the deepest traceback frame in module_file, innermost cause first.
    """
    chain = list(_exception_chain(exc))
    for error in reversed(chain):
        if _is_compilation_error(error):
            location = _compilation_error_location(error, module_file, module_globals)
            if location is not None:
                return location
    for error in reversed(chain):
        location = _deepest_frame_in(error.__traceback__, module_file)
        if location is not None:
            return location
    return None


def _exception_chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)


def _is_compilation_error(error: BaseException) -> bool:
    return any(cls.__name__ == "CompilationError" for cls in type(error).__mro__) and hasattr(error, "node")


def _compilation_error_location(
    error: BaseException, module_file: str, module_globals: Mapping[str, Any] | None
) -> Location | None:
    node = getattr(error, "node", None)
    src = getattr(error, "src", None)
    relative_line = getattr(node, "lineno", None)
    if not isinstance(src, str) or not isinstance(relative_line, int):
        return None
    module_lines = read_text(module_file).splitlines()
    def_line = _def_line_from_globals(src, module_file, module_globals) or _def_line_from_source(
        src, module_lines
    )
    if def_line is None:
        return None
    indent = 0
    if 0 < def_line <= len(module_lines):
        indent = len(module_lines[def_line - 1]) - len(module_lines[def_line - 1].lstrip())
    end_line = getattr(node, "end_lineno", None)
    end_column = getattr(node, "end_col_offset", None)
    return Location(
        module_file,
        def_line + relative_line - 1,
        indent + getattr(node, "col_offset", 0) + 1,
        def_line + end_line - 1 if isinstance(end_line, int) else 0,
        indent + end_column + 1 if isinstance(end_column, int) else 0,
    )


def _def_line_from_globals(
    src: str, module_file: str, module_globals: Mapping[str, Any] | None
) -> int | None:
    for value in (module_globals or {}).values():
        jit_function = _unwrap_jit(value)
        if jit_function is None or getattr(jit_function, "src", None) != src:
            continue
        code = getattr(getattr(jit_function, "fn", None), "__code__", None)
        if code is not None and not _same_file(code.co_filename, module_file):
            continue
        raw_src = getattr(jit_function, "raw_src", None) or []
        first_line: int = jit_function.starting_line_number
        offset = next((i for i, line in enumerate(raw_src) if line.strip().startswith("def ")), 0)
        return first_line + offset
    return None


def _unwrap_jit(value: Any) -> Any:
    """The JITFunction under any @triton.autotune / @triton.heuristics wrappers, or None."""
    for _ in range(8):
        if value is None or isinstance(value, (types.ModuleType, type)):
            return None
        if hasattr(value, "starting_line_number") and hasattr(value, "src"):
            return value
        value = getattr(value, "fn", None)
    return None


def _def_line_from_source(src: str, module_lines: list[str]) -> int | None:
    """Find the 'def' of the kernel in the file by name, preferring the one whose text equals src."""
    name = re.match(r"\s*def\s+(\w+)", src)
    if name is None:
        return None
    try:
        tree = ast.parse("\n".join(module_lines))
    except SyntaxError:
        return None
    candidates = [
        node
        for node in ast.walk(tree)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name.group(1)
    ]
    wanted = _normalized(src)
    for node in candidates:
        body = module_lines[node.lineno - 1 : node.end_lineno or node.lineno]
        if _normalized("\n".join(body)) == wanted:
            return node.lineno
    return candidates[0].lineno if len(candidates) == 1 else None


def _normalized(source: str) -> str:
    return "\n".join(line.strip() for line in source.strip().splitlines() if line.strip())


def _deepest_frame_in(tb: types.TracebackType | None, module_file: str) -> Location | None:
    found = None
    for frame in traceback.extract_tb(tb):
        if _same_file(frame.filename, module_file) and frame.lineno:
            column = getattr(frame, "colno", None)
            end_column = getattr(frame, "end_colno", None)
            found = Location(
                module_file,
                frame.lineno,
                column + 1 if column is not None else 0,
                getattr(frame, "end_lineno", None) or 0,
                end_column + 1 if end_column is not None else 0,
            )
    return found


def _same_file(a: str, b: str) -> bool:
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False
