"""The kernel-eval language server's entry point: `main()` (console script kernel-eval-daemon)."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from typing import Any

from lsprotocol import types

import kernel_eval
from kernel_eval.engine import spawn
from kernel_eval.lsp import (
    codelens,
    commands,
    configuration,
    drafts,
    evaluate,
    lifecycle,
    log,
    methods,
    on_save,
)
from kernel_eval.lsp.language_server import KernelEvalServer
from kernel_eval.lsp.scheduler import Job
from kernel_eval.result import EvalResult

logger = logging.getLogger(__name__)


def build_server(debounce_s: float | None = None) -> KernelEvalServer:
    async def run_job(job: Job) -> EvalResult | None:
        return await evaluate.evaluate(server, job)

    server = KernelEvalServer(run_job, debounce_s)
    methods.register_messages(
        server.protocol._converter
    )  # pygls writes our notifications with camelCase keys
    features: list[tuple[str, Any, Any]] = [
        (types.INITIALIZE, lifecycle.initialize, None),
        (types.INITIALIZED, lifecycle.initialized, None),
        (types.SHUTDOWN, lifecycle.shutdown, None),
        (types.WORKSPACE_DID_CHANGE_CONFIGURATION, configuration.did_change_configuration, None),
        (types.TEXT_DOCUMENT_DID_OPEN, on_save.did_open, None),
        (types.TEXT_DOCUMENT_DID_CHANGE, drafts.did_change, None),
        (types.TEXT_DOCUMENT_DID_SAVE, on_save.did_save, types.SaveOptions(include_text=False)),
        (types.TEXT_DOCUMENT_DID_CLOSE, on_save.did_close, None),
        (types.TEXT_DOCUMENT_CODE_LENS, codelens.code_lens, types.CodeLensOptions(resolve_provider=False)),
        (methods.RUN_REQUEST, commands.run_request, None),
    ]
    for method, handler, options in features:
        server.feature(method, options)(handler)
    server.command(methods.RUN_COMMAND)(commands.run_command)
    server.command(methods.CLEAR_CACHE_COMMAND)(commands.clear_cache_command)
    server.command(methods.SET_REFERENCE_COMMAND)(commands.set_reference_command)
    return server


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="kernel-eval-daemon", description="kernel-eval language server (LSP over stdin/stdout)"
    )
    parser.add_argument("--log-level", default=os.environ.get("KERNEL_EVAL_LOG_LEVEL", "INFO"))
    parser.add_argument(
        "--debounce", type=float, default=None, help="seconds to wait after a save before evaluating (0.2)"
    )
    args = parser.parse_args(argv)
    spawn.harden_parent()

    lsp_stdout = _reserve_stdout_for_lsp()
    server = build_server(args.debounce)
    log.setup(server, args.log_level)
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))  # clean up workers on SIGTERM too
    logger.info("kernel-eval daemon %s (pid %d) starting on stdio", kernel_eval.__version__, os.getpid())
    try:
        server.start_io(sys.stdin.buffer, lsp_stdout)
    finally:  # however the session ended (exit, closed stdin, signal): no worker outlives the daemon
        server.drafts.close()
        if server.pool is not None:
            server.pool.close()


def _reserve_stdout_for_lsp() -> Any:
    """Keep file descriptor 1's stream for LSP alone. Everything else that writes to stdout goes to stderr.

    Both Python's sys.stdout and the OS-level descriptor 1 (inherited by child processes, used by C code)
    are pointed at stderr. The LSP writer gets a private duplicate of the original stdout.
    """
    sys.stdout.flush()
    lsp_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return os.fdopen(lsp_fd, "wb")
