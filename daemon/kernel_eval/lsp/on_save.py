"""textDocument/didSave: evaluate (when evaluateOnSave). didOpen: say when no reference is configured."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lsprotocol import types

from kernel_eval.lsp.evaluate import usable_reference

if TYPE_CHECKING:
    from kernel_eval.lsp.language_server import KernelEvalServer


def did_save(ls: KernelEvalServer, params: types.DidSaveTextDocumentParams) -> None:
    """`textDocument/didSave`: debounce, supersede the running evaluation of the file, evaluate."""
    uri = params.text_document.uri
    if not (ls.settings.evaluate_on_save and _is_python_file(uri)):
        return
    reference = usable_reference(ls, uri)
    if reference is not None:
        ls.scheduler.save(uri, reference)


def did_open(ls: KernelEvalServer, params: types.DidOpenTextDocumentParams) -> None:
    """`textDocument/didOpen`: a kernel file without a reference gets a diagnostic saying how to add one."""
    uri = params.text_document.uri
    if _is_python_file(uri) and uri not in ls.files:
        usable_reference(ls, uri)


def did_close(ls: KernelEvalServer, params: types.DidCloseTextDocumentParams) -> None:
    """`textDocument/didClose`: nothing to stop. Results and diagnostics stay until the next evaluation."""


def _is_python_file(uri: str) -> bool:
    return uri.startswith("file:") and uri.endswith(".py")
