"""textDocument/codeLens: the verdict on the custom class line. Clicking it evaluates the file."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from lsprotocol import types

from kernel_eval.lsp.methods import RUN_COMMAND
from kernel_eval.references import DEFAULT_CUSTOM_ENTRY, ReferenceProblem
from kernel_eval.source_info import class_and_forward_lines

if TYPE_CHECKING:
    from kernel_eval.history import Entry
    from kernel_eval.lsp.language_server import FileState, KernelEvalServer

EVALUATING = "⏳ evaluating…"
NOT_YET_EVALUATED = "Evaluate kernel"


def code_lens(ls: KernelEvalServer, params: types.CodeLensParams) -> list[types.CodeLens]:
    """`textDocument/codeLens`: one lens on `class ModelNew` (or the configured custom entry point)."""
    uri = params.text_document.uri
    text = ls.document_text(uri)
    entry = DEFAULT_CUSTOM_ENTRY
    try:
        match = ls.find_reference(uri, text)
        if match is not None:
            entry = match.custom_entry_point
    except (ReferenceProblem, ValueError):
        pass
    line = class_line(text, entry)
    if line is None:
        return []
    return [
        types.CodeLens(
            range=types.Range(
                start=types.Position(line=line - 1, character=0),
                end=types.Position(line=line - 1, character=0),
            ),
            command=types.Command(title=lens_title(ls.files.get(uri)), command=RUN_COMMAND, arguments=[uri]),
        )
    ]


def lens_title(state: FileState | None) -> str:
    if state is not None and state.evaluating:
        return EVALUATING
    if state is not None and state.result is not None:
        return with_previous(state.result.headline, state.previous)
    return NOT_YET_EVALUATED


def with_previous(headline: str, previous: Entry | None, now: float | None = None) -> str:
    """`✓ correct · 1.42× faster (…) (was 1.31× at 14:02)`: the headline and the history's figure before it."""
    if previous is None:
        return headline
    return f"{headline} (was {previous.figure} at {when(previous.at, now)})"


def when(at: float, now: float | None = None) -> str:
    """14:02 today, else `Nov 28 14:02` (local time)."""
    moment, today = time.localtime(at), time.localtime(now if now is not None else time.time())
    same_day = moment.tm_year == today.tm_year and moment.tm_yday == today.tm_yday
    return time.strftime("%H:%M" if same_day else "%b %d %H:%M", moment)


def class_line(text: str, name: str) -> int | None:
    """1-based line of the top-level `class <name>`, from the editor's text (None when absent)."""
    line, _ = class_and_forward_lines(text, name)
    return line or None
