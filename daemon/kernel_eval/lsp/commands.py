"""kernelEval/run (request), and workspace/executeCommand kernelEval.run, .clearCache, .setReference.

pygls reads the command handlers' annotations at run time, so KernelEvalServer is imported for real here.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from pygls.exceptions import JsonRpcInvalidParams, JsonRpcRequestCancelled

from kernel_eval import preflight
from kernel_eval.lsp.evaluate import resolve_reference
from kernel_eval.lsp.language_server import KernelEvalServer
from kernel_eval.lsp.methods import RequestFailed, RunParams, plain
from kernel_eval.lsp.uris import path_of
from kernel_eval.references import ReferenceProblem, ReferenceRule, explicit_reference

logger = logging.getLogger(__name__)


async def run_request(ls: KernelEvalServer, params: Any) -> dict[str, Any]:
    """`kernelEval/run`: evaluate now. The result is the engine's EvalResult JSON."""
    try:
        options = RunParams.from_json(params)
        path_of(options.custom_uri)
    except ValueError as exc:
        raise JsonRpcInvalidParams(str(exc)) from exc
    return await _run(ls, options)


async def run_command(ls: KernelEvalServer, *arguments: Any) -> dict[str, Any]:
    """`kernelEval.run` [uri] (or [kernelEval/run params]): same as the request."""
    first = plain(arguments[0]) if arguments else None
    try:
        options = RunParams(custom_uri=first) if isinstance(first, str) else RunParams.from_json(first)
        path_of(options.custom_uri)
    except ValueError as exc:
        raise JsonRpcInvalidParams(f"kernelEval.run takes [uri]: {exc}") from exc
    return await _run(ls, options)


async def _run(ls: KernelEvalServer, options: RunParams) -> dict[str, Any]:
    uri = options.custom_uri
    refuse_bad_input(options)
    reference = resolve_reference(ls, uri, ls.document_text(uri), options)  # fail fast, before the queue
    result = await ls.scheduler.run(uri, options, reference)
    if result is None:
        raise JsonRpcRequestCancelled(f"evaluation of {path_of(uri).name} was cancelled")
    return result.to_dict()


def refuse_bad_input(options: RunParams) -> None:
    """The CLI's checks of the files and device, before the reference is looked for or a worker is asked. A
    problem fails the request and publishes nothing (a file that does not exist gets no diagnostic)."""
    checked = [preflight.check_file(str(path_of(options.custom_uri)), "custom", "customUri")]
    if options.ref_uri:
        checked.append(preflight.check_file(str(path_of(options.ref_uri)), "reference", "refUri"))
    checked.append(preflight.check_device(options.device or ""))
    problem = next((message for message in checked if message is not None), None)
    if problem is not None:
        fix = f"; fix: {problem.hint}" if problem.hint else ""
        logger.info("kernelEval/run refused: %s", problem.message)
        raise RequestFailed(f"{problem.message}{fix}")


async def clear_cache_command(ls: KernelEvalServer, uri: str) -> list[str]:
    """`kernelEval.clearCache` [uri]: delete the file's build cache. Returns the removed folders."""
    from kernel_eval.stages.compile.cache import clear_file_cache

    try:
        path = path_of(uri)
    except ValueError as exc:
        raise JsonRpcInvalidParams(str(exc)) from exc
    return await asyncio.to_thread(clear_file_cache, str(path), "")


def set_reference_command(ls: KernelEvalServer, *arguments: Any) -> dict[str, str]:
    """`kernelEval.setReference` [customUri, refUri, refEntryPoint?]: remember the file's reference."""
    if not 2 <= len(arguments) <= 3 or not all(isinstance(a, str) for a in arguments):
        raise JsonRpcInvalidParams("kernelEval.setReference takes [customUri, refUri, refEntryPoint?]")
    custom_uri, ref_uri, *entry = arguments
    try:
        custom_path = path_of(custom_uri).resolve()
        match = explicit_reference(path_of(ref_uri), entry[0] if entry else None, None)
    except (ValueError, ReferenceProblem) as exc:
        raise RequestFailed(f"kernelEval.setReference: {exc}") from exc
    ls.remembered[custom_path] = ReferenceRule(
        custom_glob=str(custom_path), ref=str(match.ref_path), ref_entry_point=match.ref_entry_point
    )
    state = ls.file(custom_uri)
    if state.result is None:  # drop the "no reference" diagnostic
        for uri in state.diagnostic_uris:
            ls.publish(uri, [])
        state.diagnostic_uris = set()
    ls.refresh_code_lenses()
    return {"ref": str(match.ref_path), "refEntryPoint": match.ref_entry_point}
