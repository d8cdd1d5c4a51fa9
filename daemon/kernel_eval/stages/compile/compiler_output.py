"""Map compiler errors (g++, nvcc) and Triton compile errors back to lines of the user's .py file.

torch.utils.cpp_extension.load_inline writes the user's string sources into generated files
(main.cpp: cpp_sources joined with "\\n" after an implicit '#include <torch/extension.h>', then pybind11
bindings for functions=; cuda.cu: cuda_sources after three implicit includes). A compiler line like
``.../main.cpp:12:5: error: ...`` is located in the user's .py by finding which string literal of the
load_inline call produced that stretch of the generated file, so the prepended lines are measured, not assumed.
"""

from __future__ import annotations

import ast
import os
import re
import traceback
import types
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import attrs

from kernel_eval.result import Location, Message, Phase, Severity
from kernel_eval.source_info import called_name

MAX_DIAGNOSTICS = 20
MAX_EXCERPT_LINES = 16
GENERATED_SUFFIXES = (".cpp", ".cu", ".sycl")
BUILD_FUNCTIONS = ("load_inline", "load")
_BINDINGS_PREFIXES = ("PYBIND11_MODULE(", "m.def(")

_GCC_HEADER = re.compile(
    r"^(?P<file>(?:[A-Za-z]:)?[^:\n]+?):(?P<line>\d+):(?:(?P<column>\d+):)?\s+"
    r"(?P<kind>fatal error|error|warning|note):\s*(?P<message>.*)$"
)
_NVCC_HEADER = re.compile(
    r"^(?P<file>[^\n]+?)\((?P<line>\d+)\):\s+"
    r"(?P<kind>catastrophic error|error|warning|remark|note)(?:\s*#(?P<code>[\w-]+))?:\s*(?P<message>.*)$"
)
_SEVERITIES = {
    "fatal error": Severity.ERROR,
    "catastrophic error": Severity.ERROR,
    "error": Severity.ERROR,
    "warning": Severity.WARNING,
    "remark": Severity.INFO,
    "note": Severity.INFO,
}
_NVCC_ECHO_INDENT = 2  # nvcc echoes the offending source line indented by two spaces, then a caret line


@attrs.frozen
class CompilerDiagnostic:
    """One error or warning as the compiler printed it (file as printed, 1-based line, column 0 = unknown)."""

    file: str
    line: int
    column: int
    severity: Severity
    message: str
    excerpt: str = ""  # the compiler's own lines: the header, the source echo and caret, attached notes
    end_column: int = 0  # exclusive end of gcc's ``^~~~`` underline on the same line; 0 = unknown


def parse_compiler_output(text: str) -> list[CompilerDiagnostic]:
    """Errors and warnings from g++/clang (``f:L:C: error: m``) and nvcc (``f(L): error: m``) output.

    Notes are attached to the excerpt of the diagnostic they follow; ninja's command echoes and
    "In function ..." lines are dropped. Duplicates are removed, errors come first, at most MAX_DIAGNOSTICS.
    """
    pending: list[tuple[re.Match[str], bool, list[str]]] = []
    current: list[str] | None = None
    for raw in text.splitlines():
        line = raw.rstrip()
        header, is_nvcc = _match_header(line)
        if header is not None:
            if _SEVERITIES[header["kind"]] is Severity.INFO:
                if current is not None:
                    current.append(line)
                continue
            current = [line]
            pending.append((header, is_nvcc, current))
        elif current is not None and line[:1] in (" ", "\t") and line.strip():
            current.append(line)
        else:
            current = None

    unique: dict[tuple[str, int, int, Severity, str], CompilerDiagnostic] = {}
    for header, is_nvcc, lines in pending:
        excerpt = lines[:MAX_EXCERPT_LINES]
        column = int(header.groupdict().get("column") or 0) or (_caret_column(excerpt) if is_nvcc else 0)
        diagnostic = CompilerDiagnostic(
            file=header["file"].strip(),
            line=int(header["line"]),
            column=column,
            severity=_SEVERITIES[header["kind"]],
            message=header["message"].strip(),
            excerpt="\n".join(excerpt),
            end_column=0 if is_nvcc else _underline_end(excerpt, column),
        )
        key = (diagnostic.file, diagnostic.line, diagnostic.column, diagnostic.severity, diagnostic.message)
        unique.setdefault(key, diagnostic)
    ordered = sorted(unique.values(), key=lambda d: d.severity is not Severity.ERROR)
    return ordered[:MAX_DIAGNOSTICS]


def _match_header(line: str) -> tuple[re.Match[str] | None, bool]:
    if line[:1].isspace():
        return None, False
    nvcc = _NVCC_HEADER.match(line)
    if nvcc is not None:
        return nvcc, True
    return _GCC_HEADER.match(line), False


def _caret_column(excerpt: list[str]) -> int:
    for line in excerpt[2:]:
        if line.strip() == "^":
            return max(line.index("^") - _NVCC_ECHO_INDENT + 1, 1)
    return 0


def _underline_end(excerpt: list[str], column: int) -> int:
    """gcc underlines the offending token: ``   12 |     foo(x);`` then ``      |     ^~~``."""
    for line in excerpt[2:3]:
        gutter, bar, underline = line.partition("|")
        if bar and not gutter.strip():
            found = _UNDERLINE.match(underline, column)  # the underline starts one space after the bar
            if found:
                return column + len(found.group())
    return 0


_UNDERLINE = re.compile(r"\^~*")


# --- where in the .py did the generated sources come from -------------------------------------------------


@attrs.frozen
class _Literal:
    """A str constant in the .py that load_inline may have copied verbatim into a generated file."""

    value: str
    line: int
    end_line: int

    @property
    def lines_match_source(self) -> bool:
        """True when value line k sits on source line line+k (no escaped newlines, no implicit joins)."""
        return self.value.count("\n") == self.end_line - self.line


@attrs.frozen
class _BuildCall:
    function: str
    name: str | None  # the extension name when given as a literal; the build directory is named after it
    location: Location
    functions_location: Location | None
    literals: tuple[_Literal, ...]


def _find_build_calls(tree: ast.AST, py_file: str) -> list[_BuildCall]:
    assignments = _assignments_by_name(tree)
    calls = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        function = called_name(node.func)
        if function not in BUILD_FUNCTIONS:
            continue
        name_node = _argument(node, "name", 0)
        name = name_node.value if isinstance(name_node, ast.Constant) else None
        literals: list[_Literal] = []
        if function == "load_inline":
            for keyword, position in (("cpp_sources", 1), ("cuda_sources", 2)):
                source = _argument(node, keyword, position)
                if source is not None:
                    literals.extend(_literals_of(source, assignments, set()))
        functions_node = _argument(node, "functions", 4) if function == "load_inline" else None
        calls.append(
            _BuildCall(
                function=function,
                name=name if isinstance(name, str) else None,
                location=_node_location(py_file, node),
                functions_location=_node_location(py_file, functions_node) if functions_node else None,
                literals=tuple(literals),
            )
        )
    return sorted(calls, key=lambda call: call.location.line)


def _argument(call: ast.Call, keyword: str, position: int) -> ast.expr | None:
    for kw in call.keywords:
        if kw.arg == keyword:
            return kw.value
    if position < len(call.args) and not any(isinstance(a, ast.Starred) for a in call.args[: position + 1]):
        return call.args[position]
    return None


def _node_location(py_file: str, node: ast.AST) -> Location:
    return Location(
        py_file,
        getattr(node, "lineno", 0),
        getattr(node, "col_offset", -1) + 1,
        getattr(node, "end_lineno", 0) or 0,
        (getattr(node, "end_col_offset", -1) or -1) + 1,
    )


def _assignments_by_name(tree: ast.AST) -> dict[str, list[ast.expr]]:
    """Every value assigned to each simple name, in any scope; content matching later picks the right one."""
    found: dict[str, list[ast.expr]] = {}
    for node in ast.walk(tree):
        targets: list[ast.expr] = []
        value: ast.expr | None = None
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign)) and node.value is not None:
            targets, value = [node.target], node.value
        for target in targets:
            if isinstance(target, ast.Name) and value is not None:
                found.setdefault(target.id, []).append(value)
    return found


def _literals_of(node: ast.expr, assignments: Mapping[str, list[ast.expr]], seen: set[str]) -> list[_Literal]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [_Literal(node.value, node.lineno, node.end_lineno or node.lineno)]
    if isinstance(node, (ast.List, ast.Tuple)):
        return [lit for element in node.elts for lit in _literals_of(element, assignments, seen)]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _literals_of(node.left, assignments, seen) + _literals_of(node.right, assignments, seen)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "join":
        return [lit for arg in node.args for lit in _literals_of(arg, assignments, seen)]
    if isinstance(node, ast.Name) and node.id not in seen:
        inner = seen | {node.id}
        return [
            lit for value in assignments.get(node.id, []) for lit in _literals_of(value, assignments, inner)
        ]
    return []  # f-strings, file reads, other computed text: the call line is the best we can say


# --- mapping --------------------------------------------------------------------------------------------------


def map_to_python(
    diagnostics: Iterable[CompilerDiagnostic],
    py_file: str,
    py_source: str | None = None,
    *,
    build_directory: str | None = None,
) -> list[Message]:
    """One Message per diagnostic, located in py_file.

    A diagnostic inside a generated file is traced to the string literal it came from (line and column);
    one in code built at run time (f-strings, concatenation with computed text, files read from disk), in a
    header, or in the generated bindings is placed on the load_inline/load call (or its functions= argument).
    Relative paths in diagnostics are taken relative to build_directory (ninja's working directory).
    """
    if py_source is None:
        py_source = _read_text(py_file) or ""
    py_lines = py_source.splitlines()
    try:
        calls = _find_build_calls(ast.parse(py_source), py_file)
    except (SyntaxError, ValueError):
        calls = []
    generated: dict[str, str | None] = {}
    messages = []
    for diagnostic in diagnostics:
        path = diagnostic.file
        if build_directory and not os.path.isabs(path):
            path = os.path.join(build_directory, path)
        text = None
        if path.endswith(GENERATED_SUFFIXES):
            if path not in generated:
                generated[path] = _read_text(path)
            text = generated[path]
        messages.append(_map_one(diagnostic, path, text, calls, py_file, py_lines))
    return messages


def _map_one(
    diagnostic: CompilerDiagnostic,
    path: str,
    generated_text: str | None,
    calls: list[_BuildCall],
    py_file: str,
    py_lines: list[str],
) -> Message:
    kind = "compile_error" if diagnostic.severity is Severity.ERROR else "compile_warning"
    where = f"{os.path.basename(path) if generated_text is not None else path}:{diagnostic.line}"
    call = _call_for(path, calls)
    generated_line = ""
    if generated_text is not None:
        generated_lines = generated_text.splitlines()
        if 0 < diagnostic.line <= len(generated_lines):
            generated_line = generated_lines[diagnostic.line - 1]
        for candidate in [call, *calls] if call else calls:
            location = _locate_in_literals(diagnostic, generated_text, generated_line, candidate, py_lines)
            if location is not None:
                return Message(
                    severity=diagnostic.severity,
                    phase=Phase.BUILD,
                    kind=kind,
                    message=diagnostic.message,
                    location=location,
                    hint=f"The compiler saw this at {where} of the generated source; fix it in this string.",
                    detail=diagnostic.excerpt,
                )
        if (
            call is not None
            and call.functions_location
            and generated_line.lstrip().startswith(_BINDINGS_PREFIXES)
        ):
            return Message(
                severity=diagnostic.severity,
                phase=Phase.BUILD,
                kind=kind,
                message=f"{diagnostic.message} (in the bindings load_inline generates for functions=, {where})",
                location=call.functions_location,
                hint="Every name in functions= must be declared, with that exact name, in cpp_sources.",
                detail=diagnostic.excerpt,
            )
        hint = (
            f"This source is built at run time, so only the call is known; the compiler saw it at {where} "
            f"in {os.path.dirname(path)}."
        )
    else:
        hint = (
            f"The compiler reports this inside {path}, not in your sources; it is usually caused by how "
            "your code uses it: read the compiler's notes in the details."
        )
    return Message(
        severity=diagnostic.severity,
        phase=Phase.BUILD,
        kind=kind,
        message=f"{diagnostic.message} (at {where})",
        location=call.location if call else Location(py_file),
        hint=hint,
        detail=diagnostic.excerpt,
    )


def _call_for(path: str, calls: list[_BuildCall]) -> _BuildCall | None:
    extension_name = os.path.basename(os.path.dirname(path))
    named = [call for call in calls if call.name == extension_name]
    inline = [call for call in calls if call.function == "load_inline"]
    for group in (named, inline, calls):
        if group:
            return group[0]
    return None


def _locate_in_literals(
    diagnostic: CompilerDiagnostic,
    generated_text: str,
    generated_line: str,
    call: _BuildCall,
    py_lines: list[str],
) -> Location | None:
    line_start = _offset_of_line(generated_text, diagnostic.line)
    if line_start is None:
        return None
    position = line_start + max(min(diagnostic.column - 1, len(generated_line)), 0)
    best: tuple[_Literal, int] | None = None
    for literal in call.literals:
        if not literal.value.strip():
            continue
        start = generated_text.find(literal.value)
        if start < 0 or generated_text.find(literal.value, start + 1) >= 0:
            continue  # absent, or ambiguous (it occurs more than once)
        if start <= position < start + len(literal.value) and (
            best is None or len(literal.value) > len(best[0].value)
        ):
            best = (literal, start)
    if best is None:
        return None
    literal, start = best
    line_in_literal = generated_text.count("\n", start, position)
    py_line = literal.line + line_in_literal if literal.lines_match_source else 0
    if not py_line or not _line_contains(py_lines, py_line, generated_line):
        py_line = _search_line(py_lines, literal, generated_line) or literal.line
    column = _column_in(py_lines, py_line, generated_line, diagnostic.column)
    end_column = column + diagnostic.end_column - diagnostic.column if column and diagnostic.end_column else 0
    return Location(call.location.file, py_line, column, py_line if end_column else 0, end_column)


def _offset_of_line(text: str, line: int) -> int | None:
    offset = 0
    for _ in range(line - 1):
        offset = text.find("\n", offset) + 1
        if offset == 0:
            return None
    return offset


def _line_contains(py_lines: list[str], py_line: int, generated_line: str) -> bool:
    return 0 < py_line <= len(py_lines) and generated_line.strip() in py_lines[py_line - 1]


def _search_line(py_lines: list[str], literal: _Literal, generated_line: str) -> int | None:
    needle = generated_line.strip()
    if not needle:
        return None
    hits = [n for n in range(literal.line, literal.end_line + 1) if _line_contains(py_lines, n, needle)]
    return hits[0] if len(hits) == 1 else None


def _column_in(py_lines: list[str], py_line: int, generated_line: str, column: int) -> int:
    if column <= 0 or not 0 < py_line <= len(py_lines) or not generated_line.strip():
        return 0
    text = py_lines[py_line - 1]
    index = text.find(generated_line)
    if index >= 0:
        return index + column
    stripped = generated_line.lstrip()
    indent = len(generated_line) - len(stripped)
    index = text.find(stripped)
    if index >= 0 and column > indent:
        return index + column - indent
    return 0


def _read_text(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as file:
            return file.read()
    except OSError:
        return None


def messages_from_build_error(
    error_text: str, py_file: str, py_source: str | None = None, *, build_directory: str | None = None
) -> list[Message]:
    """Messages for a failed build (the text of load_inline's RuntimeError, i.e. ninja's output).

    When the output holds no compiler diagnostic (a linker or ninja failure), one error at the call line
    carries the output's last lines.
    """
    diagnostics = parse_compiler_output(error_text)
    if diagnostics:
        return map_to_python(diagnostics, py_file, py_source, build_directory=build_directory)
    if py_source is None:
        py_source = _read_text(py_file) or ""
    try:
        calls = _find_build_calls(ast.parse(py_source), py_file)
    except (SyntaxError, ValueError):
        calls = []
    lines = [line for line in error_text.strip().splitlines() if line.strip()]
    headline = next(
        (line for line in lines if "error" in line.lower()), lines[0] if lines else "build failed"
    )
    return [
        Message(
            severity=Severity.ERROR,
            phase=Phase.BUILD,
            kind="compile_error",
            message=headline.strip()[:300],
            location=calls[0].location if calls else Location(py_file),
            hint="The build failed without a compiler error to point at; the build output is in the details.",
            detail="\n".join(lines[-40:]),
        )
    ]


# --- Triton ---------------------------------------------------------------------------------------------------


def triton_error_location(
    exc: BaseException, module_file: str, module_globals: Mapping[str, Any] | None = None
) -> Location | None:
    """Where in module_file a Triton kernel failed to compile or (under TRITON_INTERPRET=1) to run.

    Compiled path: triton's CompilationError carries the @triton.jit function's source (.src) and the AST node
    (.node, lines relative to the 'def' line); the innermost such error that belongs to a function of
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
    module_lines = (_read_text(module_file) or "").splitlines()
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
