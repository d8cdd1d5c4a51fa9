"""file:// URIs <-> paths."""

from __future__ import annotations

from pathlib import Path

from pygls.uris import from_fs_path, to_fs_path


def path_of(uri: str) -> Path:
    path = to_fs_path(uri) if uri.startswith("file:") else None
    if not path:
        raise ValueError(f"{uri} is not a file on disk; save it first")
    return Path(path)


def uri_of(path: Path) -> str:
    return from_fs_path(str(path)) or path.as_uri()
