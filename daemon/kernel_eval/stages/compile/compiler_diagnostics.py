"""Compiler output parsing: g++/clang and nvcc errors and warnings as CompilerDiagnostic, with their excerpts."""

from __future__ import annotations

import re

import attrs

from kernel_eval.result import Severity

MAX_DIAGNOSTICS = 20
MAX_EXCERPT_LINES = 16

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
# nvcc echoes the offending source line indented by two spaces, then a caret line.
_NVCC_ECHO_INDENT = 2


@attrs.frozen
class CompilerDiagnostic:
    """One error or warning as the compiler printed it (file as printed, 1-based line, column 0 = unknown)."""

    file: str
    line: int
    column: int
    severity: Severity
    message: str
    # The compiler's own lines: the header, the source echo and caret, attached notes.
    excerpt: str = ""
    # Exclusive end of gcc's ``^~~~`` underline on the same line. 0 means unknown.
    end_column: int = 0


def parse_compiler_output(text: str) -> list[CompilerDiagnostic]:
    """Errors and warnings from g++/clang (``f:L:C: error: m``) and nvcc (``f(L): error: m``) output.

    Notes are attached to the excerpt of the diagnostic they follow. ninja's command echoes and
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
