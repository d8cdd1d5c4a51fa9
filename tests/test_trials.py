"""Trial plan: never one trial, one seed nobody knew; inputs that ignore the seed are noticed."""

from __future__ import annotations

import os

import pytest
import torch

from kernel_eval.stages import trials
from kernel_eval.stages.inputs import same_inputs, seeded, unchanged_inputs_note
from kernel_eval.stages.trials import plan_trials


@pytest.mark.parametrize(("asked", "derived"), [(0, 2), (1, 2), (2, 2), (5, 5)])
def test_at_least_two_derived_trials_and_one_secret(asked, derived):
    plan = plan_trials(42, asked)
    assert [t.index for t in plan] == list(range(derived + 1))
    assert [t.seed for t in plan[:derived]] == [43 + i for i in range(derived)]
    assert [t.secret for t in plan] == [False] * derived + [True]


def test_secret_seed_comes_from_the_os_not_the_request_or_environment(monkeypatch):
    drawn = iter([43, 987_654_321])  # the first collides with a derived seed and is drawn again
    monkeypatch.setattr(trials.secrets, "randbits", lambda bits: next(drawn))
    secret = plan_trials(42, 1)[-1]
    assert secret.secret and secret.seed == 987_654_321
    assert str(secret.seed) not in "".join(os.environ.values())
    monkeypatch.undo()
    assert plan_trials(42, 1)[-1].seed != plan_trials(42, 1)[-1].seed


def test_same_inputs_compares_structure_and_values():
    x = torch.randn(3)
    assert same_inputs([x, {"k": 2}], [x.clone(), {"k": 2}])
    assert not same_inputs([x], [x + 1])
    assert not same_inputs([x], [x[:2]])
    assert not same_inputs([x], [x.double()])
    assert not same_inputs([x], [x, x])
    assert not same_inputs({"a": x}, {"b": x})
    assert same_inputs([torch.tensor([float("nan"), 1.0])], [torch.tensor([float("nan"), 1.0])])


def fixed_generator_inputs():
    return [torch.randn(4, generator=torch.Generator().manual_seed(0))]


def global_rng_inputs():
    return [torch.randn(4)]


def inputs_for(get_inputs, seed):
    with seeded(seed):
        return get_inputs()


def test_inputs_that_ignore_the_seed_get_a_note():
    first, second = inputs_for(fixed_generator_inputs, 1), inputs_for(fixed_generator_inputs, 2)
    assert "returned the same values for different seeds" in unchanged_inputs_note(first, second)
    first, second = inputs_for(global_rng_inputs, 1), inputs_for(global_rng_inputs, 2)
    assert unchanged_inputs_note(first, second) == ""


def test_inputs_without_tensors_get_their_own_note():
    assert unchanged_inputs_note([3, 4], [3, 4]).startswith("get_inputs() returns no tensor data")
