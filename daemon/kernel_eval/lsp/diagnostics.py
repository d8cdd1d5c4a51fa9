"""EvalResult -> LSP diagnostics (source "kernel-eval"), grouped by the file they belong to."""

from __future__ import annotations

from pathlib import Path

from lsprotocol import types

from kernel_eval.kinds import MessageKind
from kernel_eval.result import (
    EvalResult,
    Flag,
    Location,
    Message,
    OutputComparison,
    Phase,
    Severity,
    TrialResult,
    Verdict,
)

SOURCE = "kernel-eval"
MAX_DETAIL_CHARS = 20_000

_SEVERITY = {
    Severity.ERROR: types.DiagnosticSeverity.Error,
    Severity.WARNING: types.DiagnosticSeverity.Warning,
    Severity.INFO: types.DiagnosticSeverity.Information,
}


def diagnostics_for(
    result: EvalResult, custom_path: Path, ref_path: Path | None, custom_text: str | None = None
) -> dict[Path, list[types.Diagnostic]]:
    """Diagnostics per file. The custom file is always present (an empty list clears what it showed)."""
    custom_path = custom_path.resolve()
    ref_path = ref_path.resolve() if ref_path else None
    lines = custom_text.splitlines() if custom_text is not None else None
    anchor_line = result.custom.class_line or 1
    by_file: dict[Path, list[types.Diagnostic]] = {custom_path: []}

    if result.verdict is Verdict.INCORRECT:
        by_file[custom_path].extend(_correctness_diagnostics(result, lines))

    for message in result.messages:
        target, diagnostic = _message_diagnostic(
            message, message.phase, custom_path, ref_path, lines, anchor_line
        )
        by_file.setdefault(target, []).append(diagnostic)

    forward_line = result.custom.forward_line or anchor_line
    for flag in result.flags:  # a flag is shown like a message of its kind, at the forward line by default
        target, diagnostic = _message_diagnostic(
            flag, result.phase, custom_path, ref_path, lines, forward_line
        )
        by_file.setdefault(target, []).append(diagnostic)

    if result.verdict is Verdict.ERROR and not any(
        d.severity == types.DiagnosticSeverity.Error for d in by_file[custom_path]
    ):
        elsewhere = [f for f, ds in by_file.items() if f != custom_path and ds]
        if not elsewhere:
            by_file[custom_path].append(
                _diagnostic(
                    _line_range(anchor_line, 0, lines), result.headline, types.DiagnosticSeverity.Error
                )
            )
    return by_file


def no_reference_diagnostic(message: str, line: int = 1, text: str | None = None) -> types.Diagnostic:
    lines = text.splitlines() if text is not None else None
    return _diagnostic(
        _line_range(line, 0, lines), message, types.DiagnosticSeverity.Warning, code=MessageKind.NO_REFERENCE
    )


def _correctness_diagnostics(result: EvalResult, lines: list[str] | None) -> list[types.Diagnostic]:
    line = result.custom.forward_line or result.custom.class_line or 1
    correctness = result.correctness
    failing = correctness.first_failure if correctness else None
    if correctness is None or failing is None:
        return [_diagnostic(_line_range(line, 0, lines), result.headline, types.DiagnosticSeverity.Error)]
    passed = f"{correctness.num_passed}/{correctness.num_trials}"
    summary = f"trial {failing.trial}, seed {failing.seed}; {passed} trials passed"
    bad_outputs: list[OutputComparison | None] = [o for o in failing.outputs if not o.passed] or [None]
    return [
        _diagnostic(
            _line_range(line, 0, lines),
            f"{_describe_output(output, failing)} ({summary})",
            types.DiagnosticSeverity.Error,
            code="incorrect",
        )
        for output in bad_outputs
    ]


def _describe_output(output: OutputComparison | None, trial: TrialResult) -> str:
    if output is None:
        return f"outputs differ from the reference in trial {trial.trial}"
    if output.detail:
        return output.detail
    text = f"{output.path}: {output.reason or 'values'} mismatch"
    if output.reason == "values":
        text += (
            f", max abs err {output.max_abs_error:.3g} (atol {output.atol:g}),"
            f" max rel err {output.max_rel_error:.3g} (rtol {output.rtol:g})"
        )
        if output.worst_index is not None:
            text += f", worst at index {output.worst_index}"
    return text


def _message_diagnostic(
    message: Message | Flag,
    phase: Phase,
    custom_path: Path,
    ref_path: Path | None,
    lines: list[str] | None,
    anchor_line: int,
) -> tuple[Path, types.Diagnostic]:
    """A message, or a flag shown like one (it has no hint or detail), as a diagnostic in the file it points at."""
    hint = message.hint if isinstance(message, Message) else ""
    text = message.message + (f"\n{hint}" if hint else "")
    location = message.location
    target = custom_path
    if location is not None and location.file and location.line > 0:
        file = Path(location.file).resolve()
        if file == custom_path:
            return target, _from_message(message, phase, text, _location_range(location, lines))
        if ref_path is not None and file == ref_path:
            return ref_path, _from_message(message, phase, text, _location_range(location, None))
        text += f"\n(at {location.file}:{location.line})"
    return target, _from_message(message, phase, text, _line_range(anchor_line, 0, lines))


def _from_message(message: Message | Flag, phase: Phase, text: str, range_: types.Range) -> types.Diagnostic:
    data = {"kind": message.kind, "phase": phase.value}
    if isinstance(message, Message) and message.detail:
        data["detail"] = message.detail[-MAX_DETAIL_CHARS:]
    return _diagnostic(range_, text, _SEVERITY[message.severity], code=message.kind, data=data)


def _diagnostic(
    range_: types.Range,
    message: str,
    severity: types.DiagnosticSeverity,
    code: str | None = None,
    data: dict[str, str] | None = None,
) -> types.Diagnostic:
    return types.Diagnostic(
        range=range_, message=message, severity=severity, source=SOURCE, code=code, data=data
    )


def _location_range(location: Location, lines: list[str] | None) -> types.Range:
    if location.end_line >= location.line and location.end_column > 0:
        return types.Range(
            start=types.Position(line=location.line - 1, character=max(location.column - 1, 0)),
            end=types.Position(line=location.end_line - 1, character=location.end_column - 1),
        )
    return _line_range(location.line, location.column, lines)


def _line_range(line: int, column: int, lines: list[str] | None) -> types.Range:
    """From `column` (1-based, 0 = first non-blank) to the end of 1-based `line`."""
    index = max(line - 1, 0)
    text = lines[index] if lines is not None and index < len(lines) else None
    indent = len(text) - len(text.lstrip()) if text is not None else 0
    start = column - 1 if column > 0 else indent
    end = len(text) if text is not None else max(start + 1, 1000)
    return types.Range(
        start=types.Position(line=index, character=start),
        end=types.Position(line=index, character=max(end, start)),
    )
