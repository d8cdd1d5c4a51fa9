"""The evaluation history: append, query, the off switch, the schema version, and the code lens's previous figure."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from kernel_eval import history
from kernel_eval.history_cli import main as history_main
from kernel_eval.lsp.codelens import lens_title, with_previous
from kernel_eval.lsp.language_server import FileState
from kernel_eval.lsp.settings import parse_settings
from kernel_eval.result import (
    EvalResult,
    Location,
    Message,
    Phase,
    Severity,
    SourceInfo,
    Timing,
    TimingStats,
    Verdict,
)


def _result(custom: Path, speedup: float | None, verdict: Verdict = Verdict.CORRECT) -> EvalResult:
    stats = TimingStats(1.0, 0.0, 1.0, 0.0, 1.0, 1.0, 10)
    timing = Timing(stats, stats, speedup, "test", True) if speedup is not None else None
    return EvalResult(
        verdict=verdict,
        phase=Phase.DONE,
        ref=SourceInfo(str(custom.parent / "ref.py"), "Model"),
        custom=SourceInfo(str(custom), "ModelNew"),
        device="cpu",
        timing=timing,
    )


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.delenv(history.ENV_SWITCH, raising=False)
    return tmp_path / "data" / "kernel-eval" / "history.sqlite"


def test_append_and_query(db: Path, tmp_path: Path) -> None:
    custom = tmp_path / "custom.py"
    first = history.record(_result(custom, 1.31), "cli")
    second = history.record(_result(custom, 1.42), "daemon")
    history.record(_result(tmp_path / "other.py", None, Verdict.INCORRECT), "batch")
    assert db.exists() and first is not None and second is not None and second > first
    rows = history.entries(str(custom))
    assert [(e.origin, e.figure) for e in rows] == [("cli", "1.31×"), ("daemon", "1.42×")]
    assert len(history.entries()) == 3
    previous = history.previous(str(custom), second)
    assert previous is not None and previous.id == first and previous.figure == "1.31×"
    assert history.previous(str(custom), first) is None


def test_schema_is_versioned(db: Path, tmp_path: Path) -> None:
    history.record(_result(tmp_path / "custom.py", 1.0), "cli")
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == history.SCHEMA_VERSION
        conn.execute(f"PRAGMA user_version = {history.SCHEMA_VERSION + 1}")
    # a database from a newer kernel-eval is left alone, and the evaluation still goes on
    assert history.record(_result(tmp_path / "custom.py", 1.0), "cli") is None


def test_off_switch(db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(history.ENV_SWITCH, "0")
    assert history.record(_result(tmp_path / "custom.py", 1.0), "cli") is None
    assert not db.exists()


def test_unwritable_history_never_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("XDG_DATA_HOME", str(blocker))
    assert history.record(_result(tmp_path / "custom.py", 1.0), "cli") is None


def test_history_command(db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    custom = tmp_path / "custom.py"
    for speedup in (1.0, 2.0):
        history.record(_result(custom, speedup), "cli")
    assert history_main([str(custom)]) == 0
    out = capsys.readouterr().out
    assert "2.00×" in out and "+100%" in out and "correct" in out


def test_code_lens_shows_the_previous_figure(db: Path, tmp_path: Path) -> None:
    custom = tmp_path / "custom.py"
    history.record(_result(custom, 1.31), "cli")
    result = _result(custom, 1.42)
    row = history.record(result, "daemon")
    previous = history.previous(str(custom), row)
    title = lens_title(FileState(result=result, previous=previous))
    at = time.strftime("%H:%M", time.localtime(previous.at if previous else 0))
    assert title.startswith("✓ correct · 1.42× faster") and title.endswith(f"(was 1.31× at {at})")
    assert with_previous("✓ correct", None) == "✓ correct"
    yesterday = history.Entry(
        1, time.time() - 86400 * 2, "cli", "f", "r", "incorrect", False, None, "", "cpu"
    )
    assert "(was incorrect at " in with_previous("✓ correct", yesterday)


def test_history_setting() -> None:
    settings, warnings = parse_settings({"history": False})
    assert settings.history is False and not warnings
    assert parse_settings({"history": "no"})[1]


def test_the_cli_records_its_evaluation(db: Path) -> None:
    from cases import cpu_case

    from kernel_eval.cli import main as cli_main

    ref, custom = cpu_case("add")
    assert cli_main(["--ref_src", str(ref), "--custom_src", str(custom), "--device", "cpu", "--json"]) == 0
    [entry] = history.entries(str(custom))
    assert entry.origin == "cli" and entry.verdict == "correct"


def test_history_command_gives_the_reason_of_rows_not_correct(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    custom = tmp_path / "custom.py"
    failed = _result(custom, None, Verdict.ERROR)
    failed.phase = Phase.LOAD
    failed.messages.append(
        Message(
            Severity.ERROR, Phase.LOAD, "syntax_error", "SyntaxError: unmatched ')'", Location(str(custom), 6)
        )
    )
    history.record(failed, "batch")
    history.record(_result(custom, 2.0), "cli")
    assert history_main(["--limit=5", str(custom)]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if "batch" in line or "cli" in line]
    assert "SyntaxError: unmatched ')'" in rows[0] and "error" in rows[0]
    assert rows[1].rstrip(" │").endswith("cli")  # a correct row needs no reason
