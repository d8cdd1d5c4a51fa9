"""Who runs where: the parent side (CLI, daemon, engine, batch) never loads torch, and no child-side module
imports a parent-side one; the two sides meet only in kernel_eval.protocol."""

from __future__ import annotations

import ast
import re
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
    "kernel_eval.session",
    "kernel_eval.server.serve",
    "kernel_eval.server.client",
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


def readme_layout() -> str:
    """The fenced tree under the README's "## Layout" heading."""
    text = (PACKAGE.parents[1] / "README.md").read_text()
    section = text[text.index("## Layout") :]
    start = section.index("```") + 3
    return section[start : section.index("```", start)]


def test_the_readme_layout_names_every_module_and_nothing_that_is_gone():
    layout = readme_layout()
    named = set(re.findall(r"[\w]+\.py\b", layout))
    modules = {p.name for p in PACKAGE.rglob("*.py") if p.name not in ("__init__.py", "__main__.py")}
    benchmarks = {p.name for p in (PACKAGE.parents[1] / "benchmarks").glob("*.py")}
    assert not modules - named, f"modules the README's layout does not name: {sorted(modules - named)}"
    assert not named - modules - benchmarks, (
        f"named in the README's layout, not in the tree: {sorted(named - modules - benchmarks)}"
    )
    folders = {p.name for p in PACKAGE.rglob("*") if p.is_dir() and p.name != "__pycache__"}
    left_out = folders - set(re.findall(r"(\w+)/", layout))
    assert not left_out, f"folders the README's layout does not name: {sorted(left_out)}"
