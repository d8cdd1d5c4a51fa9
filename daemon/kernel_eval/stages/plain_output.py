"""Plain outputs: what forward returns must be data, not an object that runs code when it is read.

A torch.Tensor subclass (or any object with __torch_function__) can return from forward at once and compute
when the judge first reads it, so the timed forward did none of the work. Only plain values are accepted:
tensors whose type is exactly torch.Tensor (or nn.Parameter), Python numbers, strings and None, in lists, tuples
(namedtuples too), dicts and OrderedDicts whose keys are plain. Types are read with type(), never with
isinstance or __class__, which a subclass controls.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import torch

PLAIN_TENSORS = (torch.Tensor, torch.nn.Parameter)
PLAIN_SCALARS = (bool, int, float, complex, str, type(None))
PLAIN_MAPPINGS = (dict, OrderedDict)
MAX_DEPTH = 64
FIX = "return plain torch.Tensor values (compute them inside forward), or tuples/lists/dicts of them"


def non_plain_output(value: Any, path: str = "output") -> str:
    """Why value is not plain data, naming the first offending path, or "" when it is plain."""
    return _check(value, path, 0, set())


def _check(value: Any, path: str, depth: int, seen: set[int]) -> str:
    kind = type(value)
    if kind in PLAIN_SCALARS:
        return ""
    if kind in PLAIN_TENSORS:
        return _tensor_problem(value, path)
    if depth >= MAX_DEPTH:
        return f"{path} is nested more than {MAX_DEPTH} levels deep"
    if id(value) in seen:
        return f"{path} contains itself"
    if kind in (list, tuple) or _is_namedtuple(kind):
        seen = seen | {id(value)}
        for index, item in enumerate(
            tuple.__iter__(value) if issubclass(kind, tuple) else list.__iter__(value)
        ):
            problem = _check(item, f"{path}[{index}]", depth + 1, seen)
            if problem:
                return problem
        return ""
    if kind in PLAIN_MAPPINGS:
        seen = seen | {id(value)}
        for key, item in dict.items(value):
            if type(key) not in PLAIN_SCALARS:
                return f"{path} has a key of type {_type_name(key)}; fix: {FIX}"
            problem = _check(item, f"{path}[{key!r}]", depth + 1, seen)
            if problem:
                return problem
        return ""
    return f"{path} is a {_type_name(value)}, not a plain torch.Tensor{_why(kind)}; fix: {FIX}"


def _is_namedtuple(kind: type) -> bool:
    """A class made by collections.namedtuple: a direct tuple subclass with _fields and no extra methods."""
    return kind.__bases__ == (tuple,) and isinstance(kind.__dict__.get("_fields"), tuple)


def _tensor_problem(tensor: torch.Tensor, path: str) -> str:
    if tensor.device.type == "meta":
        return f"{path} is a meta tensor: it has no data; fix: {FIX}"
    return ""


def _why(kind: type) -> str:
    if issubclass(kind, torch.Tensor):
        return " (a Tensor subclass can run code when it is read)"
    if hasattr(kind, "__torch_function__") or hasattr(kind, "__torch_dispatch__"):
        return " (an object with __torch_function__ can run code when it is read)"
    return ""


def _type_name(value: Any) -> str:
    kind = type(value)
    module = kind.__module__
    user_file = module.startswith("kernel_eval_")  # the loader's private module name for the user's file
    plain = module in ("builtins", "__main__") or user_file
    return kind.__qualname__ if plain else f"{module}.{kind.__qualname__}"
