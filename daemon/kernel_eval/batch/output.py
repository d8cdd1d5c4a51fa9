"""The batch's JSONL output: one EvalResult per line plus the pair's name, appended and flushed as each ends."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import IO, Any

from kernel_eval.result import EvalResult


def read_lines(path: Path) -> dict[str, dict[str, Any]]:
    """name -> line (as data) of the results already in `path`. Unreadable lines (a torn last line from a killed
    run, or one of another schema) are skipped, so their pairs run again."""
    done: dict[str, dict[str, Any]] = {}
    if not path.exists():
        return done
    for line in path.read_text().splitlines():
        try:
            data: dict[str, Any] = json.loads(line)
            EvalResult.from_dict(data)
            done[data["name"]] = data
        except Exception:  # any bad line is redone
            continue
    return done


class ResultWriter:
    """Appends one line per finished pair (thread-safe). With `force` the file starts empty."""

    def __init__(self, path: Path, force: bool) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        if not force and path.exists():
            data = path.read_bytes()
            if data and not data.endswith(b"\n"):
                # A torn line from a killed run: drop it (that pair runs again).
                with open(path, "r+b") as repair:
                    repair.truncate(data.rfind(b"\n") + 1)
        self._file: IO[str] = open(path, "w" if force else "a")  # noqa: SIM115 - closed in close()
        self._lock = threading.Lock()

    def write(self, name: str, result: EvalResult, extra: dict[str, Any] | None = None) -> None:
        """One line: the name, the result's JSON, and the batch's own figures under "batch"."""
        line = json.dumps({"name": name, **result.to_dict(), "batch": extra or {}}, allow_nan=False)
        with self._lock:
            self._file.write(line + "\n")
            self._file.flush()

    def close(self) -> None:
        self._file.close()
