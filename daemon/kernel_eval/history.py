"""Evaluation history: every evaluation (CLI, daemon, batch) appended to a per-user SQLite database.

The database lives at `$XDG_DATA_HOME/kernel-eval/history.sqlite` (default `~/.local/share/kernel-eval/...`).
`KERNEL_EVAL_HISTORY=0` turns recording off. Writing history never fails an evaluation: errors are logged.
The schema is versioned with `PRAGMA user_version`. A newer database than this code knows is left untouched.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from collections.abc import Iterator, Mapping
from contextlib import closing, contextmanager
from pathlib import Path

import attrs

from kernel_eval.result import EvalResult, format_speedup

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 1
ENV_SWITCH = "KERNEL_EVAL_HISTORY"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS evaluations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,            -- unix time the evaluation finished
    origin TEXT NOT NULL,        -- cli, daemon, batch
    custom_file TEXT NOT NULL,
    ref_file TEXT NOT NULL,
    verdict TEXT NOT NULL,       -- correct, incorrect, error
    flagged INTEGER NOT NULL,    -- 1 when a blocking flag makes the verdict untrustworthy
    speedup REAL,                -- NULL when not timed
    headline TEXT NOT NULL,
    device TEXT NOT NULL,
    backend TEXT NOT NULL,
    duration_s REAL NOT NULL,
    result_json TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS evaluations_by_file ON evaluations (custom_file, id);
"""


@attrs.frozen
class Entry:
    """One recorded evaluation (the columns a table or a code lens shows)."""

    id: int
    at: float
    origin: str
    custom_file: str
    ref_file: str
    verdict: str
    flagged: bool
    speedup: float | None
    headline: str
    device: str

    @property
    def figure(self) -> str:
        """The short figure a code lens compares against: the speedup, else the verdict."""
        if self.flagged:
            return "flagged"
        if self.speedup is not None and self.verdict == "correct":
            return format_speedup(self.speedup)
        return self.verdict


def enabled(env: Mapping[str, str] = os.environ) -> bool:
    return env.get(ENV_SWITCH, "1").strip().lower() not in ("0", "false", "no", "off")


def default_path(env: Mapping[str, str] = os.environ) -> Path:
    """Where the history is kept, by `env` (a forwarded CLI call's, on the server)."""
    home = env.get("HOME") or os.path.expanduser("~")
    base = env.get("XDG_DATA_HOME") or os.path.join(home, ".local", "share")
    return Path(base) / "kernel-eval" / "history.sqlite"


class SchemaTooNew(RuntimeError):
    """The database was written by a newer kernel-eval. It is not modified."""


@contextmanager
def connect(path: Path | None = None) -> Iterator[sqlite3.Connection]:
    """An open, migrated connection (created with the current schema when new)."""
    path = path or default_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with closing(sqlite3.connect(path, timeout=10.0)) as db:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise SchemaTooNew(f"{path} has schema {version}; this kernel-eval knows up to {SCHEMA_VERSION}")
        if version < SCHEMA_VERSION:
            with db:
                db.executescript(_SCHEMA)
                db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        yield db


def record(
    result: EvalResult, origin: str, path: Path | None = None, env: Mapping[str, str] = os.environ
) -> int | None:
    """Append `result`. Returns its row id, or None when history is off or could not be written (logged).
    `env` says whether history is on and where it is kept when `path` does not."""
    if not enabled(env):
        return None
    try:
        with connect(path or default_path(env)) as db, db:
            cursor = db.execute(
                "INSERT INTO evaluations (at, origin, custom_file, ref_file, verdict, flagged, speedup, headline,"
                " device, backend, duration_s, result_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    time.time(),
                    origin,
                    result.custom.file,
                    result.ref.file,
                    result.verdict.value,
                    int(bool(result.blocking_flags)),
                    result.timing.speedup if result.timing else None,
                    result.headline,
                    result.device,
                    result.backend.value,
                    result.duration_s,
                    result.to_json(),
                ),
            )
            return cursor.lastrowid
    except (sqlite3.Error, OSError, SchemaTooNew, ValueError) as exc:
        logger.warning("could not write the evaluation history: %s", exc)
        return None


_COLUMNS = "id, at, origin, custom_file, ref_file, verdict, flagged, speedup, headline, device"


def entries(custom_file: str | None = None, limit: int = 50, path: Path | None = None) -> list[Entry]:
    """The latest `limit` entries (of one custom file when given), oldest first."""
    path = path or default_path()
    if not path.exists():
        return []
    where, args = ("WHERE custom_file = ?", [str(Path(custom_file).resolve())]) if custom_file else ("", [])
    with connect(path) as db:
        rows = db.execute(
            f"SELECT {_COLUMNS} FROM evaluations {where} ORDER BY id DESC LIMIT ?", [*args, limit]
        ).fetchall()
    return [_entry(row) for row in reversed(rows)]


def previous(custom_file: str, before_id: int | None = None, path: Path | None = None) -> Entry | None:
    """The latest entry of `custom_file` older than row `before_id` (None: the latest of all), or None if
    none."""
    path = path or default_path()
    if not enabled() or not path.exists():
        return None
    try:
        with connect(path) as db:
            row = db.execute(
                f"SELECT {_COLUMNS} FROM evaluations WHERE custom_file = ? AND id < ? ORDER BY id DESC LIMIT 1",
                (str(Path(custom_file).resolve()), before_id if before_id is not None else 2**62),
            ).fetchone()
    except (sqlite3.Error, OSError, SchemaTooNew) as exc:
        logger.warning("could not read the evaluation history: %s", exc)
        return None
    return _entry(row) if row else None


def _entry(row: tuple) -> Entry:
    id_, at, origin, custom, ref, verdict, flagged, speedup, headline, device = row
    return Entry(id_, at, origin, custom, ref, verdict, bool(flagged), speedup, headline, device)
