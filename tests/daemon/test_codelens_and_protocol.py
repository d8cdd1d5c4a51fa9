"""Finding the class line without importing anything; kernelEval/run params."""

from __future__ import annotations

from collections import namedtuple

import pytest

from kernel_eval.lsp.codelens import class_line
from kernel_eval.lsp.methods import RunParams


def test_class_line_by_ast_ignores_nested_and_similar_names():
    text = "class ModelNewer:\n    pass\n\n\n@decorator\nclass ModelNew(Base):\n    class ModelNew:\n        pass\n"
    assert class_line(text, "ModelNew") == 6
    assert class_line(text, "Missing") is None


def test_class_line_falls_back_to_a_regex_when_the_file_does_not_parse():
    assert class_line("import x\nclass ModelNew(nn.Module):\n    def forward(self, a\n", "ModelNew") == 2


def test_run_params_from_namedtuples_and_dicts():
    object_ = namedtuple("Object", ["customUri", "numCorrectTrials", "atol"])
    params = RunParams.from_json(object_("file:///k.py", 3, 1e-3))
    assert (params.custom_uri, params.num_correct_trials, params.atol) == ("file:///k.py", 3, 1e-3)
    assert RunParams.from_json({"customUri": "file:///k.py"}).ref_uri is None


@pytest.mark.parametrize(
    "bad",
    [
        None,
        {},
        {"customUri": 3},
        {"customUri": "file:///k.py", "numPerfTrials": True},
        {"customUri": "f", "atol": "x"},
        {"customUri": "f", "numCorrectTrials": 0},
    ],
)
def test_run_params_reject_bad_input(bad):
    with pytest.raises(ValueError):
        RunParams.from_json(bad)
