"""Logging: stderr always, and window/logMessage once the client is connected. Never stdout."""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
from typing import TYPE_CHECKING

from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams, JsonRpcRequestCancelled

from kernel_eval.lsp.methods import RequestFailed

if TYPE_CHECKING:
    from kernel_eval.lsp.language_server import KernelEvalServer

_LEVELS = [
    (logging.ERROR, types.MessageType.Error),
    (logging.WARNING, types.MessageType.Warning),
    (logging.INFO, types.MessageType.Info),
    (logging.NOTSET, types.MessageType.Log),
]


class LogMessageHandler(logging.Handler):
    """Forwards records to the client as window/logMessage (from any thread, through the event loop)."""

    def __init__(self, ls: KernelEvalServer) -> None:
        super().__init__()
        self._ls = ls
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._loop_thread = threading.get_ident()

    def emit(self, record: logging.LogRecord) -> None:
        if self._loop is None or self._loop.is_closed():
            return
        try:
            message = self.format(record)
        except Exception:
            self.handleError(record)
            return
        kind = next(kind for level, kind in _LEVELS if record.levelno >= level)
        params = types.LogMessageParams(type=kind, message=message)
        if threading.get_ident() == self._loop_thread:
            self._ls.window_log_message(params)
        else:
            self._loop.call_soon_threadsafe(self._ls.window_log_message, params)


class UserErrorsAsInfo(logging.Filter):
    """pygls logs every error a request answers with at ERROR, with a traceback. The errors a user's input
    causes (no such file, no reference, bad params, a cancel) are expected: logged at INFO, one line. Internal
    errors keep their level and traceback."""

    EXPECTED = (RequestFailed, JsonRpcInvalidParams, JsonRpcRequestCancelled)

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, self.EXPECTED):
            record.levelno, record.levelname = logging.INFO, "INFO"
            record.msg, record.args = "request answered with an error for the user: %s", (error,)
            record.exc_info = record.exc_text = None
        return True


_handler: LogMessageHandler | None = None


def setup(ls: KernelEvalServer, level: str = "INFO") -> None:
    global _handler
    stderr = logging.StreamHandler(sys.__stderr__)
    stderr.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(stderr)
    root.setLevel(logging.WARNING)
    logging.getLogger("pygls.protocol.json_rpc").addFilter(UserErrorsAsInfo())  # where pygls logs them
    ours = logging.getLogger("kernel_eval")
    ours.setLevel(level.upper())
    _handler = LogMessageHandler(ls)
    _handler.setFormatter(logging.Formatter("%(message)s"))
    ours.addHandler(_handler)


def attach_to_loop() -> None:
    """Called on `initialized`, when the client can receive window/logMessage."""
    if _handler is not None:
        _handler.attach(asyncio.get_running_loop())
