"""Plain outputs: forward must return data, not objects that compute when read."""

from __future__ import annotations

from collections import OrderedDict, namedtuple

import pytest
import torch

from kernel_eval.stages.plain_output import non_plain_output

Pair = namedtuple("Pair", ["left", "right"])


class LazyResult(torch.Tensor):
    """Returns at once; fills itself in when something first reads it (the cheat)."""

    computed = 0

    @staticmethod
    def __new__(cls, compute):
        tensor = torch.Tensor._make_subclass(cls, torch.empty(4))
        tensor.compute = compute
        return tensor

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        for arg in args:
            if isinstance(arg, LazyResult) and getattr(arg, "compute", None) is not None:
                compute, arg.compute = arg.compute, None
                LazyResult.computed += 1
                with torch._C.DisableTorchFunctionSubclass():
                    arg.copy_(compute())
        return super().__torch_function__(func, types, args, kwargs or {})


class TorchFunctionBox:
    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        return func(*args, **(kwargs or {}))


@pytest.mark.parametrize(
    "value",
    [
        torch.ones(3),
        torch.nn.Parameter(torch.ones(2)),
        (torch.ones(1), [torch.zeros(2), {"a": torch.ones(1), "b": None}]),
        OrderedDict(x=torch.ones(1)),
        Pair(torch.ones(1), 2.5),
        3,
        1.5,
        True,
        "text",
        None,
    ],
)
def test_plain_values_pass(value):
    assert non_plain_output(value) == ""


def test_lazy_subclass_is_rejected_without_being_read():
    lazy = LazyResult(lambda: torch.arange(4.0))
    LazyResult.computed = 0
    message = non_plain_output((torch.ones(1), {"y": lazy}))
    assert message.startswith(
        "output[1]['y'] is a test_plain_output.LazyResult, not a plain torch.Tensor "
        "(a Tensor subclass can run code when it is read); fix: return plain torch.Tensor values"
    )
    assert LazyResult.computed == 0
    assert (lazy + 0).tolist() == [0.0, 1.0, 2.0, 3.0] and LazyResult.computed == 1  # it really is lazy


def test_torch_function_object_is_rejected():
    assert "(an object with __torch_function__ can run code when it is read)" in non_plain_output(
        [TorchFunctionBox()]
    )


def test_parameter_subclass_and_container_subclasses_are_rejected():
    class MyParameter(torch.nn.Parameter):
        pass

    class MyList(list):
        pass

    class MyDict(dict):
        pass

    assert non_plain_output(MyParameter(torch.ones(1))).startswith("output is a ")
    assert non_plain_output(MyList([torch.ones(1)])).startswith("output is a ")
    assert non_plain_output({"k": MyDict()}).startswith("output['k'] is a ")


def test_meta_tensor_has_no_data():
    assert non_plain_output(torch.empty(2, device="meta")).startswith("output is a meta tensor")


def test_odd_keys_cycles_and_depth():
    assert "has a key of type tuple" in non_plain_output({(1, 2): torch.ones(1)})
    loop: list = []
    loop.append(loop)
    assert non_plain_output(loop) == "output[0] contains itself"
    deep: list = [torch.ones(1)]
    for _ in range(100):
        deep = [deep]
    assert "nested more than 64 levels deep" in non_plain_output(deep)


def test_numpy_arrays_and_other_objects_name_their_type():
    assert non_plain_output(object()).startswith("output is a object, not a plain torch.Tensor; fix: ")
