"""textDocument/didChange: an extension file's unsaved text is built after a pause in typing; the save that follows
finds the build done (or waits for it) instead of compiling again."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

from daemon_client import KernelEvalClient, wait_until

CPP_ADD = Path(__file__).resolve().parents[1] / "test_data" / "cpu" / "model_new_cpp_add.py"


async def type_then_save(client: KernelEvalClient) -> dict[str, Any]:
    """Open a C++ extension file, type an edit of its kernel, pause, save; the result of that save."""
    client.copy("model_add.py")
    custom = client.workspace / "model_new_add.py"
    shutil.copy(CPP_ADD, custom)
    client.open(custom)
    edited = custom.read_text().replace("po[i] = pa[i] + pb[i];", "po[i] = pb[i] + pa[i];  // typed")

    client.change(custom, edited)
    await asyncio.sleep(3.0)  # the typing pause (1 s), then the draft build starts
    client.save(custom, edited)

    await wait_until(lambda: client.results_for(custom), timeout=600, what="the evaluation after the save")
    return client.results_for(custom)[-1]


def build_notes(result: dict[str, Any]) -> list[str]:
    return [m["message"] for m in result["messages"] if m["kind"] == "build"]


async def test_the_text_built_while_typing_is_not_compiled_again_on_save(client: KernelEvalClient):
    result = await type_then_save(client)

    assert result["verdict"] == "correct", result["headline"]
    notes = build_notes(result)
    assert any(note.startswith("built from the unsaved text while you typed") for note in notes), notes
    assert any("nothing recompiled" in note for note in notes), notes


async def test_no_draft_build_when_switched_off(client: KernelEvalClient):
    client.set_settings(buildWhileTyping=False)

    result = await type_then_save(client)

    assert result["verdict"] == "correct", result["headline"]
    notes = build_notes(result)
    assert not any("unsaved text" in note for note in notes) and any("compiled:" in n for n in notes), notes
