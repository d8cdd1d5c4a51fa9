"""The Python API on the CPU: a Session evaluates paths and source text, blocking, as futures and awaited, and
module-level `kernel_eval.evaluate` works without one."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from cases import cpu_case

import kernel_eval
from kernel_eval import session as session_module
from kernel_eval.result import Verdict
from kernel_eval.session import Session


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Session]:
    with Session(["cpu"], build_dir_prefix=str(tmp_path_factory.mktemp("builds"))) as warm:
        yield warm


@pytest.fixture(autouse=True)
def private_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def test_paths_are_evaluated_with_the_result_everyone_gets(session: Session) -> None:
    ref, custom = cpu_case("add")

    result = session.evaluate(ref, custom)

    assert result.verdict is Verdict.CORRECT, result.headline
    assert result.custom.file == str(custom)
    assert result.correctness is not None and result.correctness.num_passed >= 3


def test_source_text_is_evaluated_without_the_caller_writing_a_file(session: Session, tmp_path: Path) -> None:
    ref, custom = cpu_case("add")

    result = session.evaluate(ref.read_text(), custom.read_text())

    assert result.verdict is Verdict.CORRECT, result.headline
    written = Path(result.custom.file)
    assert written.is_relative_to(tmp_path / "cache" / "kernel-eval" / "sources" / "custom")
    assert written.read_text() == custom.read_text()
    assert Path(result.ref.file).parent != written.parent, (
        "the candidate may read its own folder, not the reference's"
    )
    assert oct(written.parent.stat().st_mode & 0o777) == oct(0o700)


def test_wrong_text_is_judged_wrong_with_the_line_it_broke_on(session: Session) -> None:
    ref, _ = cpu_case("add")
    broken = "import torch\n\nclass ModelNew(torch.nn.Module):\n    def forward(self, a, b):\n        return a - b\n"

    result = session.evaluate(ref, broken)

    assert result.verdict is Verdict.INCORRECT, result.headline


def test_awaited_evaluations_run_and_keep_their_order(session: Session) -> None:
    ref, custom = cpu_case("add")
    _, wrong = cpu_case("dict_wrong")
    dict_ref, _ = cpu_case("dict_wrong")

    async def both() -> list[Verdict]:
        results = await asyncio.gather(
            session.evaluate_async(ref, custom), session.evaluate_async(dict_ref, wrong)
        )
        return [result.verdict for result in results]

    assert asyncio.run(both()) == [Verdict.CORRECT, Verdict.INCORRECT]


@pytest.mark.skipif(shutil.which("g++") is None, reason="needs a C++ compiler")
def test_an_extension_is_built_on_the_cores_first_then_evaluated(session: Session) -> None:
    ref, custom = cpu_case("cpp_add")
    quick_ref, quick = cpu_case("add")

    building = session.submit(ref, custom)  # built by a build-only process; the lane takes what is ready
    assert session.evaluate(quick_ref, quick).verdict is Verdict.CORRECT
    result = building.result(timeout=600)

    assert result.verdict is Verdict.CORRECT, result.headline
    assert result.cache_dir.startswith(session.defaults["build_dir_prefix"])


def test_an_unknown_option_is_refused_by_name(session: Session) -> None:
    ref, custom = cpu_case("add")

    with pytest.raises(TypeError, match="measure_perf"):
        session.submit(ref, custom, measure_perf=True)


def test_module_level_evaluate_needs_no_session(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(session_module, "local_gpus", lambda requested: [])
    ref, custom = cpu_case("add")
    try:
        result = kernel_eval.evaluate(ref, custom)
    finally:
        if session_module._default is not None:
            session_module._default.close()
            session_module._default = None

    assert result.verdict is Verdict.CORRECT, result.headline
