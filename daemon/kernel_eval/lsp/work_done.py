"""One evaluation's progress: window/workDoneProgress (cancellable) and kernelEval/evaluating."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from typing import TYPE_CHECKING

from lsprotocol import types

from kernel_eval.lsp.methods import EVALUATING_NOTIFICATION, EvaluatingNotification
from kernel_eval.progress import ProgressEvent

if TYPE_CHECKING:
    from kernel_eval.lsp.language_server import KernelEvalServer

log = logging.getLogger(__name__)
CREATE_TIMEOUT_S = 5.0  # a client that never answers window/workDoneProgress/create gets no progress bar


class EvaluationProgress:
    """Created on the event loop. `report_threadsafe` may be called from the evaluation thread."""

    def __init__(self, ls: KernelEvalServer, uri: str, title: str, token: str | int | None = None) -> None:
        self._ls = ls
        self._uri = uri
        self._title = title
        self._token = token
        self._client_token = token is not None
        self._loop = asyncio.get_running_loop()
        self._ended = False

    async def begin(self, on_cancel: Callable[[], None]) -> None:
        """Start the progress bar (if the client has one). `on_cancel` runs when the user cancels it."""
        if self._token is None and _supports_work_done_progress(self._ls):
            token = f"kernel-eval/{uuid.uuid4()}"
            try:
                await asyncio.wait_for(self._ls.work_done_progress.create_async(token), CREATE_TIMEOUT_S)
                self._token = token
            except Exception as exc:  # the client refused: go on without a progress bar
                log.warning("window/workDoneProgress/create failed: %s", exc)
        if self._token is not None:
            self._ls.work_done_progress.begin(
                self._token,
                types.WorkDoneProgressBegin(
                    title=self._title, cancellable=True, message="starting", percentage=0
                ),
            )
            cancelled: Future[None] | None = self._ls.work_done_progress.tokens.get(self._token)
            if cancelled is not None:
                cancelled.add_done_callback(lambda future: on_cancel() if future.cancelled() else None)
        self._notify("load", "starting")

    def report(self, event: ProgressEvent) -> None:
        if self._ended:
            return
        if self._token is not None:
            self._ls.work_done_progress.report(
                self._token,
                types.WorkDoneProgressReport(
                    message=f"{event.phase.value}: {event.message}", percentage=event.percentage
                ),
            )
        self._notify(event.phase.value, event.message)

    def report_threadsafe(self, event: ProgressEvent) -> None:
        self._loop.call_soon_threadsafe(self.report, event)

    def end(self, message: str, cancelled: bool = False) -> None:
        if self._ended:
            return
        self._ended = True
        if self._token is not None:
            self._ls.work_done_progress.end(self._token, types.WorkDoneProgressEnd(message=message))
            self._ls.work_done_progress.tokens.pop(self._token, None)
        if cancelled:
            self._notify("cancelled", message)

    def _notify(self, phase: str, message: str) -> None:
        self._ls.protocol.notify(EVALUATING_NOTIFICATION, EvaluatingNotification(self._uri, phase, message))


def _supports_work_done_progress(ls: KernelEvalServer) -> bool:
    window = ls.client_capabilities.window
    return bool(window and window.work_done_progress)
