"""The CLI's human output: verdict line, messages, mismatch table, timing table (rich)."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

from kernel_eval.result import (
    EvalResult,
    Message,
    OutputComparison,
    Severity,
    Timing,
    TrialResult,
    Verdict,
    format_speedup,
    speed_words,
)

_STYLE = {
    Verdict.CORRECT: "bold green",
    Verdict.INCORRECT: "bold red",
    Verdict.ERROR: "bold yellow",
    Verdict.CANCELLED: "bold",
}
_SEVERITY_STYLE = {Severity.ERROR: "red", Severity.WARNING: "yellow", Severity.INFO: "dim"}


def render_result(result: EvalResult, console: Console, verbose: bool = False) -> None:
    console.print(_verdict_line(result), style=_STYLE[result.verdict])
    for message in result.messages:
        _print_message(console, message, verbose)
    for flag in result.flags:
        console.print(f"⚑ {flag.kind}: {flag.message}", style=_SEVERITY_STYLE[flag.severity], markup=False)
    failing = result.correctness.first_failure if result.correctness else None
    if failing is not None:
        console.print(_mismatch_table(failing, console.width))
        for out in failing.outputs:
            if not out.passed:
                console.print(out.detail, markup=False, highlight=False)
    elif verbose and result.correctness and result.correctness.trials:
        console.print(_mismatch_table(result.correctness.trials[0], console.width))
    if result.timing is not None:
        console.print(_timing_table(result.timing, result.device))
    if verbose:
        if result.phase_s:
            spent = " · ".join(f"{phase} {seconds:.2f} s" for phase, seconds in result.phase_s.items())
            console.print(f"took {result.duration_s:.2f} s: {spent}", style="dim", markup=False)
        for side, text in result.captured_output.items():
            if text.strip():
                console.rule(f"output of the {side} side")
                console.print(text.rstrip(), markup=False, highlight=False)


def _verdict_line(result: EvalResult) -> str:
    custom = Path(result.custom.file).name
    trials = result.correctness
    if result.verdict is Verdict.CORRECT and trials is not None:
        line = f"correct: {custom} matches {Path(result.ref.file).name} "
        line += f"({trials.num_passed}/{trials.num_trials} trials, {result.device}, {result.backend.value})"
        if result.timing is not None:
            t = result.timing
            caveat = "" if t.meaningful else " — CPU timing, not meaningful"
            line += f" · {speed_words(t.speedup)}{caveat}"
        return line
    if result.verdict is Verdict.INCORRECT:
        failing = trials.first_failure if trials else None
        seed = f" on trial {failing.trial + 1} (seed {failing.seed})" if failing else ""
        return f"incorrect: {custom} differs from the reference{seed}"
    if result.verdict is Verdict.CANCELLED:
        return f"cancelled: stopped evaluating {custom} in the {result.phase.value} phase"
    return f"error: could not evaluate {custom} ({result.phase.value} phase)"


def _print_message(console: Console, message: Message, verbose: bool) -> None:
    where = ""
    if message.location is not None:
        where = (
            f"{message.location.file}:{message.location.line}: "
            if message.location.line
            else f"{message.location.file}: "
        )
    console.print(
        f"{where}{message.severity.value}: {message.message}",
        style=_SEVERITY_STYLE[message.severity],
        markup=False,
        highlight=False,
    )
    if message.hint:
        console.print(f"  fix: {message.hint}", style="dim", markup=False, highlight=False)
    if message.detail and (verbose or message.severity is Severity.ERROR):
        detail = message.detail if verbose else "\n".join(message.detail.splitlines()[-15:])
        console.print(detail, style="dim", markup=False, highlight=False)


_MISMATCH_COLUMNS = (
    "output",
    "status",
    "shape",
    "dtype",
    "max abs err",
    "max rel err",
    "mismatches",
    "worst at",
    "err vs float64 (custom / ref / allowed)",
)
WIDE = 120  # narrower terminals get the outputs as columns, one line per figure


def _mismatch_table(trial: TrialResult, width: int = WIDE) -> Table:
    table = Table(title=f"outputs, trial {trial.trial + 1} (seed {trial.seed})", title_justify="left")
    cells = [_mismatch_cells(out) for out in trial.outputs]
    if width >= WIDE:
        for column in _MISMATCH_COLUMNS:
            table.add_column(column, overflow="fold")
        for row in cells:
            table.add_row(*row)
        return table
    table.add_column("")
    for row in cells:
        table.add_column(row[0], overflow="fold")
    for index, name in enumerate(_MISMATCH_COLUMNS[1:], start=1):
        table.add_row(name.replace(" (custom", "\n(custom"), *(row[index] for row in cells))
    return table


def _mismatch_cells(out: OutputComparison) -> list[str]:
    return [
        out.path,
        "ok" if out.passed else f"[red]{out.reason}[/red]",
        _pair(out.custom_shape, out.ref_shape),
        _pair(out.custom_dtype, out.ref_dtype),
        f"{out.max_abs_error:.3g} (atol {out.atol:g})",
        f"{out.max_rel_error:.3g} (rtol {out.rtol:g})",
        f"{out.mismatch_count} ({out.mismatch_fraction:.1%})",
        "" if out.worst_index is None else str(out.worst_index),
        _exact_errors(out),
    ]


def _exact_errors(out: OutputComparison) -> str:
    """Both sides' errors against the float64 answer (max elementwise, then RMS), or why there are none."""
    if out.method != "float64":
        return f"tolerance: {out.note}" if out.note else "—"
    rows = (
        ("max", out.custom_error, out.ref_error, out.allowed_error),
        ("rms", out.custom_norm_error, out.ref_norm_error, out.allowed_norm_error),
    )
    return "\n".join(f"{name} {_g(c)} / {_g(r)} / {_g(a)}" for name, c, r, a in rows)


def _g(value: float | None) -> str:
    return "?" if value is None else f"{value:.2g}"


def _pair(custom: object, ref: object) -> str:
    return str(custom) if custom == ref else f"{custom} vs ref {ref}"


def _timing_table(timing: Timing, device: str) -> Table:
    caveat = "" if timing.meaningful else " — not meaningful on the CPU"
    caption = timing.method
    if timing.floor is not None:
        f = timing.floor
        caption += (
            f"\nbandwidth vs a {f.copy_bandwidth_gbs:.0f} GB/s device copy: "
            f"reference {f.reference_percent:.0f} %, custom {f.custom_percent:.0f} %"
        )
    headline = "GPU kernel" if timing.figure == "gpu_kernel_time" else "end-to-end"
    rows = [(headline, timing.reference, timing.custom, timing.speedup, timing.speedup_ci95)]
    if timing.reference_end_to_end is not None and timing.custom_end_to_end is not None:
        e2e_speedup = timing.end_to_end_speedup or 0.0
        rows.append(("end-to-end", timing.reference_end_to_end, timing.custom_end_to_end, e2e_speedup, []))
    several = len(rows) > 1  # one figure is named in the title: the table then fits in 80 columns
    title = f"timing on {device}, ms{'' if several else ', ' + headline}{caveat}"
    table = Table(title=title, title_justify="left", caption=caption)
    for column in ("figure", "side", "median", "95% CI", "IQR", "min", "trials")[0 if several else 1 :]:
        table.add_column(column, justify="left" if column in ("figure", "side") else "right", overflow="fold")
    for figure, reference, custom, speedup, interval in rows:
        first = [figure] if several else []
        for side, stats in (("reference", reference), ("custom", custom)):
            ci = f"{stats.ci95_ms[0]:.4g}–{stats.ci95_ms[1]:.4g}" if len(stats.ci95_ms) == 2 else ""
            table.add_row(
                *first,
                side,
                f"{stats.median_ms:.4g}",
                ci,
                f"{stats.iqr_ms:.3g}",
                f"{stats.min_ms:.4g}",
                str(stats.trials),
            )
        ci = f"{format_speedup(interval[0])}–{format_speedup(interval[1])}" if len(interval) == 2 else ""
        table.add_row(*first, "speedup", format_speedup(speedup), ci, "", "", "", end_section=True)
    return table
