"""Draft builds (lsp/draft_builds.py): the unsaved text of an extension file is built before the save, so the
evaluation of that text, once saved, compiles nothing; a newer text or another saved text stops an older build."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cases import CPU_DATA

from kernel_eval.engine.pool import WorkerPool
from kernel_eval.lsp.draft_builds import DraftBuilds
from kernel_eval.request import EvalRequest
from kernel_eval.result import Verdict

SLOW_IMPORT = """import time
from torch.utils.cpp_extension import load_inline

time.sleep(300)  # stands for a long build
ext = load_inline(name="slow_draft", cpp_sources="int one() { return 1; }", functions=["one"])
"""


@pytest.fixture
def drafts() -> Iterator[DraftBuilds]:
    builds = DraftBuilds()
    yield builds
    builds.close()


def wait_until_built(drafts: DraftBuilds, file: str, limit_s: float = 600.0) -> None:
    deadline = time.monotonic() + limit_s
    while drafts.building(file):
        assert time.monotonic() < deadline, "the draft build did not end"
        time.sleep(0.5)


def test_saving_the_text_a_draft_build_built_compiles_nothing(
    drafts: DraftBuilds, tmp_path: Path, build_prefix: Path
) -> None:
    custom = tmp_path / "model_new_cpp_add.py"
    shutil.copy(CPU_DATA / "model_new_cpp_add.py", custom)
    edited = custom.read_text().replace("po[i] = pa[i] + pb[i];", "po[i] = pb[i] + pa[i];  // edited")

    assert drafts.start(str(custom), edited, "cpu", str(build_prefix))  # typed, not saved
    assert not drafts.start(str(custom), edited, "cpu", str(build_prefix))  # the same text: already building
    wait_until_built(drafts, str(custom))
    custom.write_text(edited)  # the save
    note = drafts.settle(str(custom), edited, 60.0)

    request = EvalRequest(
        str(CPU_DATA / "model_add.py"), str(custom), device="cpu", build_dir_prefix=str(build_prefix)
    )
    with WorkerPool(spares=0) as pool:
        result = pool.evaluate(request)

    assert result.verdict is Verdict.CORRECT, result.headline
    build_notes = " ".join(m.message for m in result.messages if m.kind == "build")
    assert "nothing recompiled" in build_notes, build_notes
    assert note.startswith("built from the unsaved text while you typed")


def test_a_newer_text_or_another_saved_text_stops_the_draft_build(
    drafts: DraftBuilds, tmp_path: Path
) -> None:
    custom = tmp_path / "model_new_slow.py"
    custom.write_text(SLOW_IMPORT)
    first, second = SLOW_IMPORT + "# first edit\n", SLOW_IMPORT + "# second edit\n"

    assert drafts.start(str(custom), first, "cpu", str(tmp_path / "builds"))
    first_process = drafts._drafts[str(custom)].process
    assert drafts.start(str(custom), second, "cpu", str(tmp_path / "builds"))
    assert first_process.poll() is not None  # interrupted, not left to build a text nobody will save
    second_process = drafts._drafts[str(custom)].process

    assert drafts.settle(str(custom), SLOW_IMPORT, 60.0) == ""  # the user saved yet another text
    assert second_process.poll() is not None and not drafts.building(str(custom))
    with pytest.raises(ProcessLookupError):
        os.killpg(second_process.pid, 0)  # its whole process group is gone (the build's children too)


def test_a_file_without_an_extension_build_is_not_drafted(drafts: DraftBuilds, tmp_path: Path) -> None:
    custom = tmp_path / "model_new_add.py"
    assert not drafts.start(str(custom), (CPU_DATA / "model_new_add.py").read_text(), "cpu")
    assert not drafts.building(str(custom))
