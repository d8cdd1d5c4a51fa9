"""Model inputs: [args, kwargs] forms, device moves, independent clones, seeded generation."""

from __future__ import annotations

import random
from collections import OrderedDict, namedtuple

import numpy as np
import pytest
import torch

from kernel_eval.stages.inputs import clone_tree, generate, seeded, split_args, to_device

Pair = namedtuple("Pair", ["left", "right"])


def test_positional_list_is_all_args():
    x = torch.randn(2)
    args, kwargs = split_args([x, 3], "get_inputs()")
    assert args[0] is x and args[1] == 3
    assert kwargs == {}


def test_tuple_is_accepted_as_positional():
    assert split_args((1, 2), "get_inputs()") == ([1, 2], {})


def test_kernelbook_args_kwargs_form():
    assert split_args([[], {"inp_size": 4, "d_model": 4}], "get_init_inputs()") == (
        [],
        {"inp_size": 4, "d_model": 4},
    )
    assert split_args([(1,), {"k": 2}], "get_init_inputs()") == ([1], {"k": 2})


def test_list_and_dict_with_non_string_keys_stay_positional():
    args, kwargs = split_args([[1], {0: "a"}], "get_inputs()")
    assert args == [[1], {0: "a"}] and kwargs == {}


def test_empty_list_means_no_arguments():
    assert split_args([], "get_init_inputs()") == ([], {})


@pytest.mark.parametrize(
    ("value", "mentions"),
    [
        (torch.zeros(2, 3), "single Tensor of shape [2, 3]"),
        (None, "None"),
        ({"d_model": 4}, "a dict"),
        (5, "a int (5)"),
    ],
)
def test_wrong_form_error_says_what_was_returned_and_what_is_expected(value, mentions):
    with pytest.raises(ValueError) as error:
        split_args(value, "get_init_inputs()")
    message = str(error.value)
    assert message.startswith("get_init_inputs() returned")
    assert mentions in message
    assert "[args, kwargs]" in message and "list/tuple of positional arguments" in message


def test_to_device_walks_containers_and_keeps_their_types():
    tensor = torch.ones(2, dtype=torch.float64)
    tree = {"a": [tensor, (tensor, 1)], "p": Pair(tensor, "s"), "o": OrderedDict(x=tensor)}
    moved = to_device(tree, torch.device("cpu"))
    assert isinstance(moved["p"], Pair) and moved["p"].right == "s"
    assert isinstance(moved["a"][1], tuple) and moved["a"][1][1] == 1
    assert isinstance(moved["o"], OrderedDict)
    assert torch.equal(moved["o"]["x"], tensor)


def test_to_device_moves_tensors_and_leaves_other_values():
    moved = to_device([torch.ones(3), 7], "meta")
    assert moved[0].device.type == "meta" and moved[1] == 7


def test_clone_is_independent_of_original():
    original = [torch.zeros(4), {"w": torch.ones(2, 2)}, Pair(torch.zeros(1), None)]
    copy = clone_tree(original)
    copy[0].add_(5)
    copy[1]["w"].mul_(0)
    copy[2].left.fill_(9)
    assert torch.equal(original[0], torch.zeros(4))
    assert torch.equal(original[1]["w"], torch.ones(2, 2))
    assert original[2].left.item() == 0
    assert copy[2].right is None


def test_clone_preserves_strides_and_requires_grad():
    transposed = torch.randn(3, 5).t()
    leaf = torch.randn(2, requires_grad=True)
    cloned_t, cloned_leaf = clone_tree([transposed, leaf])
    assert cloned_t.stride() == transposed.stride()
    assert cloned_t.data_ptr() != transposed.data_ptr()
    assert cloned_leaf.requires_grad and cloned_leaf.is_leaf


def _draw():
    return torch.rand(3), random.random(), np.random.rand()


def test_seeded_is_reproducible():
    with seeded(7):
        first = _draw()
    with seeded(7):
        second = _draw()
    with seeded(8):
        other = _draw()
    assert torch.equal(first[0], second[0]) and first[1:] == second[1:]
    assert not torch.equal(first[0], other[0])


def test_seeded_restores_previous_rng_state():
    torch.manual_seed(123)
    random.seed(123)
    np.random.seed(123)
    expected = _draw()
    torch.manual_seed(123)
    random.seed(123)
    np.random.seed(123)
    with seeded(0):
        _draw()
    after = _draw()
    assert torch.equal(expected[0], after[0]) and expected[1:] == after[1:]


def test_seeded_restores_state_when_the_body_raises():
    torch.manual_seed(5)
    expected = torch.rand(2)
    torch.manual_seed(5)
    with pytest.raises(RuntimeError), seeded(1):
        raise RuntimeError("user code failed")
    assert torch.equal(torch.rand(2), expected)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_to_device_cuda_and_seeded_cuda_rng():
    moved = to_device({"x": [torch.ones(2)]}, torch.device("cuda"))
    assert moved["x"][0].is_cuda
    with seeded(3):
        first = torch.rand(4, device="cuda")
    with seeded(3):
        second = torch.rand(4, device="cuda")
    assert torch.equal(first, second)


def test_generate_makes_factory_tensors_on_the_given_device_reproducibly():
    def get_inputs():
        return [torch.randn(8), torch.randn(8, device="cpu")], {"k": torch.rand(3)}

    args, kwargs = generate(get_inputs, 5, torch.device("meta"))

    assert args[0].device.type == "meta" and kwargs["k"].device.type == "meta"
    assert args[1].device.type == "cpu"  # an explicit device stays as written
    again, _ = generate(get_inputs, 5, torch.device("meta"))
    assert torch.equal(again[1], args[1])


def test_generate_runs_get_inputs_as_written_when_it_cannot_run_on_the_device():
    def get_inputs():
        return [torch.from_numpy(torch.randn(4).numpy())]  # .numpy() needs CPU tensors

    args, kwargs = generate(get_inputs, 5, torch.device("meta"))

    assert args[0].device.type == "cpu" and kwargs == {}
    assert torch.equal(args[0], generate(get_inputs, 5)[0][0])


def test_generate_reports_a_get_inputs_that_fails_everywhere():
    def get_inputs():
        raise RuntimeError("broken reference")

    with pytest.raises(RuntimeError, match="broken reference"):
        generate(get_inputs, 5, torch.device("meta"))
