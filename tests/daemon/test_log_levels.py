"""The daemon's log: errors a user's input causes are one INFO line; internal errors keep ERROR and a traceback."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from pygls.exceptions import JsonRpcInvalidParams

from kernel_eval.lsp import log
from kernel_eval.lsp.methods import RequestFailed


class Kept(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[tuple[str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append((record.levelname, logging.Formatter().format(record)))


@pytest.fixture
def pygls_log() -> Iterator[tuple[logging.Logger, Kept]]:
    root, pygls = logging.getLogger(), logging.getLogger("pygls.protocol.json_rpc")
    saved_handlers, saved_filters = list(root.handlers), list(pygls.filters)
    log.setup(None)  # type: ignore[arg-type]  # the client handler is never reached: it serves kernel_eval only
    kept = Kept()
    pygls.addHandler(kept)
    yield pygls, kept
    pygls.removeHandler(kept)
    root.handlers[:] = saved_handlers
    pygls.filters[:] = saved_filters


def answered(logger: logging.Logger, error: Exception) -> None:
    try:
        raise error
    except Exception:
        logger.exception('Exception occurred for message "%s"', 7)  # as pygls logs an error response


@pytest.mark.parametrize("error", [RequestFailed("no such custom file: /x.py"), JsonRpcInvalidParams("bad")])
def test_user_errors_are_one_info_line(pygls_log: tuple[logging.Logger, Kept], error: Exception) -> None:
    logger, kept = pygls_log
    answered(logger, error)
    [(level, text)] = kept.lines
    assert level == "INFO"
    assert "Traceback" not in text
    assert text == f"request answered with an error for the user: {error}"


def test_internal_errors_keep_error_and_traceback(pygls_log: tuple[logging.Logger, Kept]) -> None:
    logger, kept = pygls_log
    answered(logger, KeyError("state"))
    [(level, text)] = kept.lines
    assert level == "ERROR"
    assert "Traceback (most recent call last)" in text and "KeyError: 'state'" in text
