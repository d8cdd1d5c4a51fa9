"""A pair's two files, given as paths or as source text. A worker imports files, so text is written first: to a
per-user folder, one subfolder per content, the reference and the custom side apart (a candidate may read its own
file's folder, never the reference's)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

Source = str | os.PathLike[str]
"""A path to a .py file, or the file's text itself."""


def sources_root() -> Path:
    """Where text sources are written: under the user's cache, 0700."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    root = Path(base) / "kernel-eval" / "sources"
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    return root


def is_text(source: Source) -> bool:
    """Text, not a path: a string with a line break in it (a path never has one)."""
    return isinstance(source, str) and "\n" in source


def as_file(source: Source, side: str, name: str) -> str:
    """The path of `source`: itself when it is a path, else the file its text was written to. The same text
    always lands in the same file, so a text evaluated again finds its build cached."""
    if not is_text(source):
        return str(Path(source).expanduser().resolve())
    text = str(source)
    digest = hashlib.sha256(text.encode()).hexdigest()[:20]
    folder = sources_root() / side / digest
    path = folder / name
    if not path.exists():
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        partial.write_text(text)
        partial.replace(path)
    return str(path)
