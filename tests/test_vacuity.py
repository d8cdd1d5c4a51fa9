"""Vacuous checks: a reference that zeros or a constant would match is flagged."""

from __future__ import annotations

import torch

from kernel_eval.result import Severity
from kernel_eval.stages.exactness import Float64Answer
from kernel_eval.stages.vacuity import vacuity_flags, vacuous_leaves


def randn(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def test_outputs_below_the_tolerance_are_vacuous():
    tiny = randn(64, 64) * 1e-6
    [flag] = vacuity_flags(tiny)
    assert flag.kind == "vacuous_check" and flag.severity is Severity.ERROR
    assert flag.message.startswith("vacuous check: a kernel returning constants would pass")
    assert "output (the constant 0)" in flag.message and "scale the inputs up" in flag.message


def test_tiny_outputs_against_the_float64_answer_are_a_real_check():
    tiny = randn(64, 64) * 1e-6
    assert vacuity_flags(tiny, exact=Float64Answer(tiny.double())) == []
    assert vacuity_flags(tiny, atol=1e-4, exact=Float64Answer(tiny.double()))[0].severity is Severity.ERROR


def test_varied_outputs_are_a_real_check():
    ref = randn(64, 64)
    assert vacuity_flags(ref) == []
    assert vacuity_flags(ref, exact=Float64Answer(ref.double())) == []


def test_constant_outputs_are_vacuous_under_either_rule():
    ones = torch.softmax(randn(32, 1), dim=1)  # softmax over one element: 1 everywhere
    for exact in (None, Float64Answer(ones.double())):
        [flag] = vacuity_flags(ones, exact=exact)
        assert flag.severity is Severity.ERROR and "the constant 1" in flag.message


def test_integer_outputs_that_never_change_are_vacuous():
    argmax = torch.zeros(100, dtype=torch.int64)
    assert vacuity_flags(argmax)[0].severity is Severity.ERROR
    assert vacuity_flags(torch.arange(100)) == []


def test_nearly_all_zero_outputs_are_a_weak_check():
    ref = torch.zeros(10_000)
    ref[1234] = 2.5
    [leaf], leaves = vacuous_leaves(ref, exact=Float64Answer(ref.double()))
    assert leaves == 1 and leaf.matched_fraction == 0.9999 and leaf.constant == "0"
    [flag] = vacuity_flags(ref, exact=Float64Answer(ref.double()))
    assert flag.severity is Severity.WARNING
    assert flag.message.startswith("weak check: the constant 0 matches 99.99% of output")


def test_small_sparse_outputs_are_a_real_check():
    ref = torch.zeros(100)
    ref[3] = 1.0
    assert vacuity_flags(ref) == []


def test_one_real_leaf_keeps_the_check_meaningful():
    flags = vacuity_flags((randn(16), torch.zeros(16)))
    assert [(f.severity, f.message.split(";")[0]) for f in flags] == [
        (Severity.WARNING, "weak check: output[1] is matched by the constant 0")
    ]


def test_every_leaf_vacuous_names_them_all():
    [flag] = vacuity_flags({"a": torch.full((8,), 3.0), "b": torch.zeros(8)})
    assert flag.severity is Severity.ERROR
    assert "output['a'] (the constant 3), output['b'] (the constant 0)" in flag.message


def test_nan_everywhere_is_vacuous():
    assert vacuity_flags(torch.full((10,), float("nan")))[0].severity is Severity.ERROR


def test_scalars_and_empty_tensors_are_not_leaves():
    assert vacuous_leaves((1.5, torch.zeros(0), randn(8)))[1] == 1
    assert vacuity_flags((2.0, None)) == []


def test_a_value_that_changes_with_the_inputs_is_a_real_check():
    loss, other_loss = torch.tensor(0.731), torch.tensor(0.694)  # a scalar loss in two trials
    assert vacuity_flags(loss, other=other_loss) == []
    assert vacuity_flags(loss) == []  # without another trial, one element is tried against zero only
    assert vacuity_flags(torch.tensor(1.0), other=torch.tensor(1.0))[0].severity is Severity.ERROR


def test_constants_come_from_the_other_trial():
    ones = torch.ones(50)
    assert vacuity_flags(ones, other=torch.full((50,), 2.0)) == []
    [flag] = vacuity_flags(ones, other=torch.ones(50))
    assert flag.severity is Severity.ERROR and "(the constant 1)" in flag.message
