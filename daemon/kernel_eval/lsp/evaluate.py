"""One evaluation of one custom file: reference -> EvalRequest -> worker pool -> diagnostics, lens, result."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from kernel_eval import history, source_info
from kernel_eval.kinds import MessageKind
from kernel_eval.lsp import diagnostics
from kernel_eval.lsp.methods import RequestFailed, RunParams
from kernel_eval.lsp.scheduler import Job
from kernel_eval.lsp.uris import path_of, uri_of
from kernel_eval.lsp.work_done import EvaluationProgress
from kernel_eval.references import (
    HOW_TO_CONFIGURE,
    ReferenceMatch,
    ReferenceProblem,
    explicit_reference,
    looks_like_kernel_file,
)
from kernel_eval.request import EvalRequest, options_for
from kernel_eval.result import EvalResult, Message, Phase, Severity

if TYPE_CHECKING:
    from kernel_eval.lsp.language_server import KernelEvalServer

logger = logging.getLogger(__name__)


class NoReference(RequestFailed):
    """No reference for the custom file (or a rule naming a missing one). The message says how to fix it."""


def resolve_reference(ls: KernelEvalServer, uri: str, text: str, options: RunParams | None) -> ReferenceMatch:
    """The reference to judge `uri` against. Raises NoReference (and shows why on the file) if none."""
    try:
        if options is not None and options.ref_uri:
            match = explicit_reference(
                path_of(options.ref_uri), options.ref_entry_point, options.custom_entry_point
            )
        else:
            found = ls.find_reference(uri, text)
            if found is None:
                raise no_reference_found(uri)
            match = found
    except ReferenceProblem as problem:
        show_reference_problem(ls, uri, text, problem)
        raise NoReference(str(problem)) from problem
    if options is not None:
        match = attrs.evolve(
            match,
            ref_entry_point=options.ref_entry_point or match.ref_entry_point,
            custom_entry_point=options.custom_entry_point or match.custom_entry_point,
        )
    return match


def show_reference_problem(ls: KernelEvalServer, uri: str, text: str, problem: ReferenceProblem) -> None:
    state = ls.file(uri)
    for stale in state.diagnostic_uris - {uri}:
        ls.publish(stale, [])
    state.diagnostic_uris = {uri}
    ls.publish(uri, [diagnostics.no_reference_diagnostic(str(problem), problem.line or 1, text)])


def build_request(
    ls: KernelEvalServer, custom_path: Path, match: ReferenceMatch, options: RunParams | None
) -> EvalRequest:
    """The engine's request: the run's own values where it gave them, else the settings."""
    values: dict[str, Any] = {
        field.name: getattr(ls.settings, option) for option, field in options_for("settings").items()
    }
    for option, field in options_for("run").items():
        given = getattr(options, option, None)
        if given is not None:
            values[field.name] = given
    values.update(ref_entry_point=match.ref_entry_point, custom_entry_point=match.custom_entry_point)
    return EvalRequest(ref_src=str(match.ref_path), custom_src=str(custom_path), **values)


async def evaluate(ls: KernelEvalServer, job: Job) -> EvalResult | None:
    """Run `job` on the worker pool, and publish what it found unless it was cancelled or superseded."""
    uri = job.uri
    options: RunParams | None = job.options
    custom_path = path_of(uri)
    text = ls.document_text(uri)
    match: ReferenceMatch = job.reference or resolve_reference(ls, uri, text, options)
    if ls.pool is None:
        raise RequestFailed("the kernel-eval server is not initialized (no worker pool)")
    request = build_request(ls, custom_path, match, options)

    state = ls.file(uri)
    state.evaluating = True
    ls.refresh_code_lenses()
    progress = EvaluationProgress(
        ls, uri, f"kernel-eval: {custom_path.name}", options.work_done_token if options else None
    )
    await progress.begin(on_cancel=job.stop)
    logger.info("evaluating %s against %s (%s)", custom_path, match.ref_path, match.origin or match.rule)
    pool = ls.pool

    def run() -> EvalResult:
        saved = source_info.read_text(request.custom_src)
        drafted = ls.drafts.settle(request.custom_src, saved, request.build_timeout_s, job.cancel)
        notes = [Message(Severity.INFO, Phase.BUILD, MessageKind.BUILD, drafted)] if drafted else []
        return pool.evaluate(request, progress.report_threadsafe, job.cancel, notes)

    try:
        result = await asyncio.get_running_loop().run_in_executor(ls.evaluation_thread, run)
    except BaseException as exc:
        job.stop()  # also when the daemon's own teardown cancels this task: no kernel outlives it
        progress.end("failed", cancelled=True)
        if isinstance(exc, Exception):
            ls.show_error(f"kernel-eval could not evaluate {custom_path.name}: {exc!r} (see the log)")
        raise
    finally:
        state.evaluating = False

    if job.cancel.is_set():
        progress.end(
            "superseded by a newer save" if job.superseded else "cancelled", cancelled=not job.superseded
        )
        ls.refresh_code_lenses()
        return None

    progress.end(result.headline)
    state.result = result
    state.previous = None
    if ls.settings.history:
        state.previous = await asyncio.get_running_loop().run_in_executor(None, remember, result)
    by_file = diagnostics.diagnostics_for(result, custom_path, match.ref_path, text)
    published = {uri_of(path) for path in by_file}
    for stale in state.diagnostic_uris - published:
        ls.publish(stale, [])
    for path, found in by_file.items():
        ls.publish(uri_of(path), found)
    state.diagnostic_uris = published
    ls.notify_result(uri, result)
    ls.refresh_code_lenses()
    logger.info("%s: %s (%.2f s)", custom_path.name, result.headline, result.duration_s)
    return result


def remember(result: EvalResult) -> history.Entry | None:
    """Append `result` to the history. Returns the file's entry before it (None when there is none or history is off)."""
    row = history.record(result, "daemon")
    return history.previous(result.custom.file, row) if row is not None else None


def usable_reference(ls: KernelEvalServer, uri: str) -> ReferenceMatch | None:
    """The reference of `uri`, or None. Kernel-looking files without one get told how to add one."""
    text = ls.document_text(uri)
    try:
        match = ls.find_reference(uri, text)
        if match is None and looks_like_kernel_file(text):
            show_reference_problem(ls, uri, text, no_reference_found(uri))
        return match
    except ReferenceProblem as problem:
        show_reference_problem(ls, uri, text, problem)
    return None


def no_reference_found(uri: str) -> ReferenceProblem:
    return ReferenceProblem(f"no reference found for {path_of(uri).name}: {HOW_TO_CONFIGURE}", 1)
