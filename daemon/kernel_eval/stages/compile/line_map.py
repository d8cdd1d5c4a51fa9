"""Map compiler errors (g++, nvcc) back to lines of the user's .py file, as Messages.

torch.utils.cpp_extension.load_inline writes the user's string sources into generated files
(main.cpp: cpp_sources joined with "\\n" after an implicit '#include <torch/extension.h>', then pybind11
bindings for functions=; cuda.cu: cuda_sources after three implicit includes). A compiler line like
``.../main.cpp:12:5: error: ...`` is located in the user's .py by finding which string literal of the
load_inline call produced that stretch of the generated file, so the prepended lines are measured, not assumed.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Iterable

from kernel_eval.kinds import MessageKind
from kernel_eval.result import Location, Message, Phase, Severity
from kernel_eval.stages.compile.compiler_diagnostics import CompilerDiagnostic, parse_compiler_output
from kernel_eval.stages.compile.inline_literals import BuildCall, InlineLiteral, find_build_calls

GENERATED_SUFFIXES = (".cpp", ".cu", ".sycl")
_BINDINGS_PREFIXES = ("PYBIND11_MODULE(", "m.def(")


def map_to_python(
    diagnostics: Iterable[CompilerDiagnostic],
    py_file: str,
    py_source: str | None = None,
    *,
    build_directory: str | None = None,
) -> list[Message]:
    """One Message per diagnostic, located in py_file.

    A diagnostic inside a generated file is traced to the string literal it came from (line and column).
    One in code built at run time (f-strings, concatenation with computed text, files read from disk), in a
    header, or in the generated bindings is placed on the load_inline/load call (or its functions= argument).
    Relative paths in diagnostics are taken relative to build_directory (ninja's working directory).
    """
    if py_source is None:
        py_source = _read_text(py_file) or ""
    py_lines = py_source.splitlines()
    try:
        calls = find_build_calls(ast.parse(py_source), py_file)
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
    calls: list[BuildCall],
    py_file: str,
    py_lines: list[str],
) -> Message:
    kind = MessageKind.COMPILE_ERROR if diagnostic.severity is Severity.ERROR else MessageKind.COMPILE_WARNING
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


def _call_for(path: str, calls: list[BuildCall]) -> BuildCall | None:
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
    call: BuildCall,
    py_lines: list[str],
) -> Location | None:
    line_start = _offset_of_line(generated_text, diagnostic.line)
    if line_start is None:
        return None
    position = line_start + max(min(diagnostic.column - 1, len(generated_line)), 0)
    best: tuple[InlineLiteral, int] | None = None
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


def _search_line(py_lines: list[str], literal: InlineLiteral, generated_line: str) -> int | None:
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
        calls = find_build_calls(ast.parse(py_source), py_file)
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
            kind=MessageKind.COMPILE_ERROR,
            message=headline.strip()[:300],
            location=calls[0].location if calls else Location(py_file),
            hint="The build failed without a compiler error to point at; the build output is in the details.",
            detail="\n".join(lines[-40:]),
        )
    ]
