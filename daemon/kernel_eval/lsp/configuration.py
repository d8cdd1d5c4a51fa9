"""workspace/didChangeConfiguration: new settings apply to the next evaluation. Workers keep running."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import attrs
from lsprotocol import types

from kernel_eval.lsp.settings import SECTION, Settings, parse_settings

if TYPE_CHECKING:
    from kernel_eval.lsp.language_server import KernelEvalServer

logger = logging.getLogger(__name__)


async def did_change_configuration(ls: KernelEvalServer, params: types.DidChangeConfigurationParams) -> None:
    """`workspace/didChangeConfiguration`: settings.kernelEval pushed, or (settings null) pulled."""
    if params.settings is None or params.settings == {}:
        await pull_configuration(ls)
    else:
        apply(ls, params.settings)


async def pull_configuration(ls: KernelEvalServer) -> None:
    """Ask for the `kernelEval` section when the client answers workspace/configuration."""
    workspace_caps = ls.client_capabilities.workspace
    if not (workspace_caps and workspace_caps.configuration):
        return
    try:
        values = await ls.workspace_configuration_async(
            types.ConfigurationParams(items=[types.ConfigurationItem(section=SECTION)])
        )
    except Exception as exc:
        logger.warning("workspace/configuration failed: %s", exc)
        return
    if values and values[0] is not None:
        apply(ls, {SECTION: values[0]})


def apply(ls: KernelEvalServer, data: object) -> None:
    previous = ls.settings
    ls.settings, warnings = parse_settings(data, base=previous)
    for warning in warnings:
        logger.warning("%s", warning)
    _log_changes(previous, ls.settings)
    if (ls.settings.device, ls.settings.sandbox) != (previous.device, previous.sandbox):
        ls.warm_up()
    ls.refresh_code_lenses()


def _log_changes(before: Settings, after: Settings) -> None:
    changed = [f.name for f in attrs.fields(Settings) if getattr(before, f.name) != getattr(after, f.name)]
    if changed:
        logger.info("settings changed: %s", ", ".join(changed))
