"""The checked-in JSON Schema of the result (and the TypeScript generated from it) matches result.py."""

from __future__ import annotations

import json

import pytest

from kernel_eval import result_schema
from kernel_eval.result import (
    Correctness,
    EvalResult,
    Flag,
    Floor,
    Location,
    Message,
    OutputComparison,
    Phase,
    Protection,
    ProtectionState,
    SandboxRecord,
    Severity,
    SourceInfo,
    Status,
    Timing,
    TimingStats,
    TrialResult,
    Verdict,
)


def test_checked_in_schema_matches_the_result_classes():
    checked_in = result_schema.SCHEMA_PATH.read_text(encoding="utf-8")
    assert checked_in == result_schema.schema_text(), (
        f"{result_schema.SCHEMA_PATH.name} is stale: a class in kernel_eval/result.py changed. "
        f"Regenerate it and the TypeScript types: {result_schema.REGENERATE_COMMAND}"
    )


def stats(median: float) -> TimingStats:
    return TimingStats(median, 0.1, median, 0.1, median, median, 10, [median, median])


def every_part() -> EvalResult:
    """A result with every optional part filled in, so every class of the schema is exercised."""
    here = Location("/w/model_new.py", 3, 1, 3, 9)
    output = OutputComparison("output", False, "values", [2], [2], worst_index=[1], scale=1.0, detail="off")
    return EvalResult(
        Verdict.CORRECT,
        Phase.DONE,
        SourceInfo("/w/model.py", "Model", 1, 2),
        SourceInfo("/w/model_new.py", "ModelNew", 1, 2),
        "cuda:0",
        correctness=Correctness(2, 1, 1, [TrialResult(0, 42, False, [output], secret=True)]),
        timing=Timing(
            stats(2.0),
            stats(1.0),
            2.0,
            "cuda events",
            True,
            reference_end_to_end=stats(2.5),
            end_to_end_speedup=2.1,
            floor=Floor(1000.0, 8, 8, 1.0, 2.0),
        ),
        messages=[Message(Severity.WARNING, Phase.TIME, "timing", "noisy", location=here)],
        flags=[Flag("side_stream", "work on a side stream", location=here)],
        kernels={"custom": ["add_kernel"]},
        phase_s={"load": 0.5},
        sandbox=SandboxRecord(protections=[Protection("network", ProtectionState.UNAVAILABLE, "no netns")]),
    )


def test_to_dict_is_what_the_schema_describes():
    jsonschema = pytest.importorskip("jsonschema")
    schema = result_schema.result_schema()
    data = json.loads(every_part().to_json())
    assert list(data) == list(schema["properties"])
    jsonschema.validate(data, schema)


def test_the_server_decides_the_status_and_a_blocking_flag_makes_it_flagged():
    flagged = every_part()
    assert (flagged.status, flagged.to_dict()["status"]) == (Status.FLAGGED, "flagged")
    flagged.flags[0].severity = Severity.WARNING
    assert flagged.status is Status.CORRECT
    flagged.verdict = Verdict.INCORRECT
    assert flagged.to_dict()["status"] == "incorrect"
