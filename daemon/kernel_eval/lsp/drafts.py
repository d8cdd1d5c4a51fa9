"""textDocument/didChange: after a pause in typing, build the unsaved text of an extension file (lsp/draft_builds.py).

Only files with a reference are built, and only when `kernelEval.buildWhileTyping` is on. The build runs in a
process of its own while the editor (and any evaluation on the GPU) goes on, and a save of the same text then finds
it built.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import Future
from typing import TYPE_CHECKING

from lsprotocol import types

from kernel_eval.lsp.uris import path_of
from kernel_eval.references import ReferenceProblem
from kernel_eval.result import SandboxMode

if TYPE_CHECKING:
    from kernel_eval.lsp.language_server import KernelEvalServer

logger = logging.getLogger(__name__)
TYPING_PAUSE_S = 1.0


def did_change(ls: KernelEvalServer, params: types.DidChangeTextDocumentParams) -> None:
    """`textDocument/didChange`: (re)start the typing-pause timer of the file."""
    uri = params.text_document.uri
    if not (ls.settings.build_while_typing and uri.startswith("file:") and uri.endswith(".py")):
        return
    pending = ls.typing_timers.pop(uri, None)
    if pending is not None:
        pending.cancel()
    loop = asyncio.get_running_loop()
    ls.typing_timers[uri] = loop.call_later(TYPING_PAUSE_S, _paused, ls, uri)


def _paused(ls: KernelEvalServer, uri: str) -> None:
    ls.typing_timers.pop(uri, None)
    text = ls.document_text(uri)
    try:
        if ls.find_reference(uri, text) is None:
            return
    except ReferenceProblem:
        return
    file = str(path_of(uri))
    sandbox = SandboxMode(ls.settings.sandbox)
    future = ls.draft_thread.submit(ls.drafts.start, file, text, ls.settings.device, "", sandbox)
    future.add_done_callback(lambda done: _log_start(file, done))


def _log_start(file: str, done: Future[bool]) -> None:
    try:
        started = done.result()
    except Exception:
        logger.exception("draft build of %s could not start", file)
        return
    if started:
        logger.info("building the unsaved text of %s", file)
