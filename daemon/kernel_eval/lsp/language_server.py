"""KernelEvalServer: the pygls LanguageServer plus what the daemon knows (settings, pool, results per file)."""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import attrs
from lsprotocol import types
from pygls.lsp.server import LanguageServer

import kernel_eval
from kernel_eval.history import Entry
from kernel_eval.lsp import methods
from kernel_eval.lsp.draft_builds import DraftBuilds
from kernel_eval.lsp.scheduler import Evaluate, Scheduler
from kernel_eval.lsp.settings import Settings
from kernel_eval.lsp.uris import path_of
from kernel_eval.references import ReferenceMatch, ReferenceRule, find_reference
from kernel_eval.result import EvalResult, SandboxMode

if TYPE_CHECKING:
    from kernel_eval.engine.pool import WorkerPool

logger = logging.getLogger(__name__)


@attrs.define
class FileState:
    """What the server knows about one custom file."""

    result: EvalResult | None = None
    evaluating: bool = False
    diagnostic_uris: set[str] = attrs.Factory(set)
    """Where this file's diagnostics are shown."""
    previous: Entry | None = None
    """The history's entry before `result` (the lens shows its figure)."""


class KernelEvalServer(LanguageServer):
    def __init__(self, evaluate: Evaluate, debounce_s: float | None = None) -> None:
        super().__init__("kernel-eval", kernel_eval.__version__)
        self.settings = Settings()
        self.pool: WorkerPool | None = None
        self.files: dict[str, FileState] = {}
        self.remembered: dict[Path, ReferenceRule] = {}
        """Set by kernelEval.setReference."""
        self.scheduler = Scheduler(evaluate)
        # Not asyncio's default executor: asyncio.run() waits for that one at exit, before workers are killed.
        self.evaluation_thread = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="kernel-eval-evaluation"
        )
        if debounce_s is not None:
            self.scheduler.debounce_s = debounce_s
        self.drafts = DraftBuilds()
        """Unsaved text built while the user types (lsp/drafts.py)."""
        self.typing_timers: dict[str, asyncio.TimerHandle] = {}
        self.draft_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kernel-eval-drafts")

    def warm_up(self) -> None:
        """Start workers for the configured device, on the evaluation thread (warm_up waits for the pool's lock)."""
        if self.pool is not None:
            self.evaluation_thread.submit(
                self.pool.warm_up, self.settings.device, SandboxMode(self.settings.sandbox)
            )

    def file(self, uri: str) -> FileState:
        return self.files.setdefault(uri, FileState())

    @property
    def workspace_root(self) -> Path | None:
        try:
            root = self.workspace.root_path
        except RuntimeError:  # not initialized
            return None
        return Path(root) if root else None

    def document_text(self, uri: str) -> str:
        """The file's current text: the editor's copy when open, else what is on disk ("" when unreadable)."""
        try:
            return self.workspace.get_text_document(uri).source
        except (OSError, UnicodeDecodeError):
            return ""

    def find_reference(self, uri: str, text: str | None = None) -> ReferenceMatch | None:
        """Raises references.ReferenceProblem when a rule names a missing file."""
        return find_reference(
            path_of(uri),
            self.document_text(uri) if text is None else text,
            remembered=self.remembered,
            settings_rules=self.settings.references,
            workspace_root=self.workspace_root,
        )

    def publish(self, uri: str, diagnostics: list[types.Diagnostic]) -> None:
        self.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(uri=uri, diagnostics=diagnostics)
        )

    def refresh_code_lenses(self) -> None:
        workspace_caps = self.client_capabilities.workspace
        if workspace_caps and workspace_caps.code_lens and workspace_caps.code_lens.refresh_support:
            self.workspace_code_lens_refresh(None)

    def notify_result(self, uri: str, result: EvalResult) -> None:
        self.protocol.notify(methods.RESULT_NOTIFICATION, methods.ResultNotification(uri, result.to_dict()))

    def show_error(self, message: str) -> None:
        self.window_show_message(types.ShowMessageParams(type=types.MessageType.Error, message=message))
