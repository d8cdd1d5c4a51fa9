"""initialize / initialized / shutdown: settings from initializationOptions, the warm worker pool."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from lsprotocol import types

from kernel_eval.lsp import configuration, log
from kernel_eval.lsp.settings import parse_settings

if TYPE_CHECKING:
    from kernel_eval.lsp.language_server import KernelEvalServer

logger = logging.getLogger(__name__)


def initialize(ls: KernelEvalServer, params: types.InitializeParams) -> None:
    """`initialize`: read initializationOptions.kernelEval, create the worker pool (workers start later)."""
    ls.settings, warnings = parse_settings(params.initialization_options)
    for warning in warnings:
        logger.warning("%s", warning)
    from kernel_eval.engine.pool import WorkerPool

    ls.pool = WorkerPool(spares=2)  # one for another file, one for a crash right after it


async def initialized(ls: KernelEvalServer, params: types.InitializedParams) -> None:
    """`initialized`: start logging to the client, pull settings, warm the workers up."""
    log.attach_to_loop()
    await configuration.pull_configuration(ls)
    if ls.pool is not None:
        logger.info("warming up workers for device %r", ls.settings.device or "default")
        ls.warm_up()


async def shutdown(ls: KernelEvalServer, params: None) -> None:
    """`shutdown`: stop evaluations and the worker processes."""
    await ls.scheduler.close()
    await asyncio.to_thread(ls.drafts.close)
    if ls.pool is not None:
        await asyncio.to_thread(ls.pool.close)
        ls.pool = None
