"""The load_inline / load calls of a user's .py, and the string literals their sources may have come from."""

from __future__ import annotations

import ast
from collections.abc import Mapping

import attrs

from kernel_eval.result import Location
from kernel_eval.source_info import called_name

BUILD_FUNCTIONS = ("load_inline", "load")


@attrs.frozen
class InlineLiteral:
    """A str constant in the .py that load_inline may have copied verbatim into a generated file."""

    value: str
    line: int
    end_line: int

    @property
    def lines_match_source(self) -> bool:
        """True when value line k sits on source line line+k (no escaped newlines, no implicit joins)."""
        return self.value.count("\n") == self.end_line - self.line


@attrs.frozen
class BuildCall:
    """One load_inline or load call, with the literals of its cpp_sources and cuda_sources."""

    function: str
    # The extension name when given as a literal. The build directory is named after it.
    name: str | None
    location: Location
    functions_location: Location | None
    literals: tuple[InlineLiteral, ...]


def find_build_calls(tree: ast.AST, py_file: str) -> list[BuildCall]:
    """Every load_inline / load call in tree, in line order."""
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
        literals: list[InlineLiteral] = []
        if function == "load_inline":
            for keyword, position in (("cpp_sources", 1), ("cuda_sources", 2)):
                source = _argument(node, keyword, position)
                if source is not None:
                    literals.extend(_literals_of(source, assignments, set()))
        functions_node = _argument(node, "functions", 4) if function == "load_inline" else None
        calls.append(
            BuildCall(
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
    """Every value assigned to each simple name, in any scope. Content matching later picks the right one."""
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


def _literals_of(
    node: ast.expr, assignments: Mapping[str, list[ast.expr]], seen: set[str]
) -> list[InlineLiteral]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [InlineLiteral(node.value, node.lineno, node.end_lineno or node.lineno)]
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
