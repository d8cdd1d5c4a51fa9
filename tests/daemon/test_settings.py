"""Parsing the client's kernelEval settings."""

from __future__ import annotations

from kernel_eval.lsp.settings import Settings, parse_settings
from kernel_eval.references import ReferenceRule


def test_defaults():
    settings, warnings = parse_settings(None)
    assert settings == Settings()
    assert (settings.evaluate_on_save, settings.measure_performance, settings.device) == (True, True, "")
    assert (settings.num_correct_trials, settings.num_perf_trials, settings.timeout) == (1, 10, 300.0)
    assert warnings == []


def test_initialization_options_and_nested_section_both_work():
    flat, _ = parse_settings({"device": "cpu", "numCorrectTrials": 3, "atol": 1e-3, "rtol": None})
    nested, _ = parse_settings({"kernelEval": {"device": "cpu", "numCorrectTrials": 3, "atol": 1e-3}})
    assert flat == nested
    assert (flat.device, flat.num_correct_trials, flat.atol, flat.rtol) == ("cpu", 3, 1e-3, None)


def test_changes_apply_on_top_of_previous_settings():
    first, _ = parse_settings({"device": "cuda:1", "evaluateOnSave": False})
    second, _ = parse_settings({"measurePerformance": False}, base=first)
    assert (second.device, second.evaluate_on_save, second.measure_performance) == ("cuda:1", False, False)


def test_bad_values_are_ignored_with_a_warning():
    settings, warnings = parse_settings(
        {
            "numPerfTrials": "ten",
            "evaluateOnSave": 1,
            "timeout": -5,
            "numCorrectTrials": 0,
            "extensionOnly": 1,
        }
    )
    assert settings == Settings()
    assert len(warnings) == 4
    assert any("kernelEval.numPerfTrials: expected an integer" in w for w in warnings)
    assert any("evaluateOnSave: expected true/false" in w for w in warnings)


def test_references_setting():
    settings, warnings = parse_settings(
        {
            "references": {
                "kernels/*_fast.py": {
                    "ref": "refs/model.py",
                    "refEntryPoint": "Model",
                    "customEntryPoint": "Fast",
                },
                "other/*.py": "refs/other.py",
                "broken/*.py": {"refEntryPoint": "Model"},
            }
        }
    )
    assert settings.references == (
        ReferenceRule("kernels/*_fast.py", "refs/model.py", "Model", "Fast"),
        ReferenceRule("other/*.py", "refs/other.py"),
    )
    assert len(warnings) == 1 and "broken/*.py" in warnings[0]
