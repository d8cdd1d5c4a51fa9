"""textDocument/didChange: an extension file's unsaved text is built after a pause in typing; the save that follows
finds the build done (or waits for it) instead of compiling again."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

from daemon_client import KernelEvalClient, wait_until

CPP_ADD = Path(__file__).resolve().parents[1] / "test_data" / "cpu" / "model_new_cpp_add.py"


async def test_the_text_built_while_typing_is_not_compiled_again_on_save(client: KernelEvalClient):
    client.copy("model_add.py")
    custom = client.workspace / "model_new_add.py"
    shutil.copy(CPP_ADD, custom)
    client.open(custom)
    edited = custom.read_text().replace("po[i] = pa[i] + pb[i];", "po[i] = pb[i] + pa[i];  // typed")

    client.change(custom, edited)
    await asyncio.sleep(3.0)  # the typing pause (1 s), then the draft build starts
    client.save(custom, edited)

    await wait_until(lambda: client.results_for(custom), timeout=600, what="the evaluation after the save")
    result = client.results_for(custom)[-1]
    assert result["verdict"] == "correct", result["headline"]
    notes = [m["message"] for m in result["messages"] if m["kind"] == "build"]
    assert any(note.startswith("built from the unsaved text while you typed") for note in notes), notes
    assert any("nothing recompiled" in note for note in notes), notes


async def test_no_draft_build_when_switched_off(client: KernelEvalClient):
    client.set_settings(buildWhileTyping=False)
    client.copy("model_add.py")
    custom = client.workspace / "model_new_add.py"
    shutil.copy(CPP_ADD, custom)
    client.open(custom)
    edited = custom.read_text().replace("po[i] = pa[i] + pb[i];", "po[i] = pb[i] + pa[i];  // typed")

    client.change(custom, edited)
    await asyncio.sleep(3.0)
    client.save(custom, edited)

    await wait_until(lambda: client.results_for(custom), timeout=600, what="the evaluation after the save")
    result = client.results_for(custom)[-1]
    notes = [m["message"] for m in result["messages"] if m["kind"] == "build"]
    assert not any("unsaved text" in note for note in notes), notes
