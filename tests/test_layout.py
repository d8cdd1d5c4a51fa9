"""Who runs where: the parent side (CLI, daemon, engine, batch) never loads torch, and no child-side module
imports a parent-side one; the two sides meet only in kernel_eval.protocol."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "daemon" / "kernel_eval"
PARENT_ENTRY_POINTS = (
    "kernel_eval.cli",
    "kernel_eval.lsp.server",
    "kernel_eval.engine.pool",
    "kernel_eval.engine.builds",
    "kernel_eval.batch.runner",
)


def test_the_parent_side_imports_no_torch():
    probe = f"import sys; import {', '.join(PARENT_ENTRY_POINTS)}; print(sorted(m for m in sys.modules if m.split('.')[0] == 'torch')[:3])"
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=PACKAGE.parent, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]", f"torch loaded by the parent: {done.stdout}"


def imported_modules(file: Path) -> set[str]:
    tree = ast.parse(file.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_child_side_modules_import_nothing_of_the_parent_side():
    for file in (PACKAGE / "worker").glob("*.py"):
        parent_side = {
            m for m in imported_modules(file) if m.startswith(("kernel_eval.engine", "kernel_eval.lsp"))
        }
        assert not parent_side, f"{file.name} imports {parent_side}"


def test_stages_and_engine_import_nothing_of_batch_or_the_editor():
    """The layers run one way: batch/ and lsp/ use engine/ and stages/, never the reverse."""
    for file in [*(PACKAGE / "stages").rglob("*.py"), *(PACKAGE / "engine").glob("*.py")]:
        upward = {m for m in imported_modules(file) if m.startswith(("kernel_eval.batch", "kernel_eval.lsp"))}
        assert not upward, f"{file.relative_to(PACKAGE)} imports {upward}"
