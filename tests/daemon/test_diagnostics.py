"""EvalResult -> LSP diagnostics: lines, severities, files, clearing."""

from __future__ import annotations

from pathlib import Path

from lsprotocol import types

from kernel_eval.lsp.diagnostics import diagnostics_for
from kernel_eval.result import (
    Correctness,
    EvalResult,
    Flag,
    Location,
    Message,
    OutputComparison,
    Phase,
    Severity,
    SourceInfo,
    TrialResult,
    Verdict,
)

CUSTOM = Path("/w/model_new_add.py")
REF = Path("/w/model_add.py")
TEXT = "import torch\n\n\nclass ModelNew:\n    def forward(self, a, b):\n        return a - b\n"


def result(verdict: Verdict, **fields) -> EvalResult:
    return EvalResult(
        verdict=verdict,
        phase=fields.pop("phase", Phase.DONE),
        ref=SourceInfo(str(REF), "Model", 5, 8),
        custom=SourceInfo(str(CUSTOM), "ModelNew", 4, 5),
        device="cpu",
        **fields,
    )


def test_correct_result_clears_the_custom_file():
    assert diagnostics_for(result(Verdict.CORRECT), CUSTOM, REF, TEXT) == {CUSTOM: []}


def test_incorrect_result_on_the_forward_line_with_trial_and_seed():
    bad = OutputComparison(
        path="output", passed=False, reason="values", detail="output: max abs err 3.1e-02 > 1e-04"
    )
    correctness = Correctness(
        num_trials=3, num_passed=1, trials=[TrialResult(0, 42, True), TrialResult(1, 43, False, [bad])]
    )

    [diagnostic] = diagnostics_for(result(Verdict.INCORRECT, correctness=correctness), CUSTOM, REF, TEXT)[
        CUSTOM
    ]

    assert diagnostic.range == types.Range(types.Position(4, 4), types.Position(4, 28))
    assert diagnostic.message == "output: max abs err 3.1e-02 > 1e-04 (trial 1, seed 43; 1/3 trials passed)"
    assert diagnostic.severity == types.DiagnosticSeverity.Error and diagnostic.source == "kernel-eval"


def test_output_without_detail_is_described_from_its_numbers():
    bad = OutputComparison(
        path="output[1]",
        passed=False,
        reason="values",
        atol=1e-4,
        rtol=1e-4,
        max_abs_error=0.5,
        worst_index=[2, 3],
    )
    correctness = Correctness(num_trials=1, num_passed=0, trials=[TrialResult(0, 42, False, [bad])])

    [diagnostic] = diagnostics_for(result(Verdict.INCORRECT, correctness=correctness), CUSTOM, REF, TEXT)[
        CUSTOM
    ]

    assert diagnostic.message.startswith("output[1]: values mismatch, max abs err 0.5 (atol 0.0001)")
    assert "worst at index [2, 3]" in diagnostic.message


def test_messages_go_to_their_file_and_severity():
    messages = [
        Message(
            Severity.ERROR,
            Phase.BUILD,
            "compile_error",
            "expected ';'",
            Location(str(CUSTOM), 6, 9),
            hint="fix it",
        ),
        Message(Severity.ERROR, Phase.LOAD, "import_error", "no module x", Location(str(REF), 2, 1)),
        Message(Severity.WARNING, Phase.LOAD, "compat_shim", "patched inductor", None),
        Message(Severity.INFO, Phase.TIME, "timing", "CPU timings", Location("/usr/lib/torch/x.py", 10)),
    ]

    by_file = diagnostics_for(result(Verdict.ERROR, messages=messages), CUSTOM, REF, TEXT)

    compile_error, warning, info = by_file[CUSTOM]
    assert (
        compile_error.range.start == types.Position(5, 8) and compile_error.message == "expected ';'\nfix it"
    )
    assert compile_error.code == "compile_error"
    assert warning.severity == types.DiagnosticSeverity.Warning
    assert warning.range.start.line == 3  # no location: the class line
    assert (
        info.severity == types.DiagnosticSeverity.Information
        and "(at /usr/lib/torch/x.py:10)" in info.message
    )
    [ref_error] = by_file[REF]
    assert ref_error.range.start.line == 1 and ref_error.message == "no module x"


def test_error_without_messages_still_shows_the_headline():
    [diagnostic] = diagnostics_for(result(Verdict.ERROR), CUSTOM, REF, TEXT)[CUSTOM]
    assert diagnostic.message == "⚠ error"
    assert diagnostic.range.start.line == 3


def test_explicit_end_column_is_kept():
    location = Location(str(CUSTOM), 6, 16, 6, 21)
    message = Message(Severity.ERROR, Phase.CHECK, "triton_compile_error", "bad arange", location)

    [diagnostic] = diagnostics_for(result(Verdict.ERROR, messages=[message]), CUSTOM, REF, TEXT)[CUSTOM]

    assert diagnostic.range == types.Range(types.Position(5, 15), types.Position(5, 20))


def test_flags_are_diagnostics_of_their_severity_at_their_line():
    flags = [
        Flag("vacuous_check", "vacuous check: a kernel returning constants would pass"),
        Flag("no_custom_kernel", "no custom kernel ran", Severity.WARNING, Location(str(CUSTOM), 6)),
    ]

    vacuous, no_kernel = diagnostics_for(result(Verdict.CORRECT, flags=flags), CUSTOM, REF, TEXT)[CUSTOM]

    assert (vacuous.code, vacuous.severity) == ("vacuous_check", types.DiagnosticSeverity.Error)
    assert vacuous.range.start.line == 4  # the forward line when the flag names none
    assert vacuous.message == "vacuous check: a kernel returning constants would pass"
    assert (no_kernel.code, no_kernel.severity) == ("no_custom_kernel", types.DiagnosticSeverity.Warning)
    assert no_kernel.range.start.line == 5
