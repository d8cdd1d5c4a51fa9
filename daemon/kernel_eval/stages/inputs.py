"""Model inputs: the [args, kwargs] forms of get_inputs(), moving and cloning them, seeded generation, and
whether two trials' inputs really differ."""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import torch

EXPECTED_FORM = (
    "a list/tuple of positional arguments, e.g. [torch.randn(4, 4)], "
    "or [args, kwargs], e.g. [[], {'d_model': 4}]"
)


def split_args(value: object, what: str) -> tuple[list[Any], dict[str, Any]]:
    """Positional and keyword arguments from what get_inputs()/get_init_inputs() returned."""
    if not isinstance(value, (list, tuple)):
        raise ValueError(f"{what} returned {_describe(value)}; expected {EXPECTED_FORM}")
    if _is_args_kwargs(value):
        args, kwargs = value
        return list(args), dict(kwargs)
    return list(value), {}


def _is_args_kwargs(value: list[Any] | tuple[Any, ...]) -> bool:
    return (
        len(value) == 2
        and isinstance(value[0], (list, tuple))
        and isinstance(value[1], dict)
        and all(isinstance(key, str) for key in value[1])
    )


def _describe(value: object) -> str:
    if isinstance(value, torch.Tensor):
        return f"a single Tensor of shape {list(value.shape)} (wrap it in a list: [tensor])"
    if value is None:
        return "None (did it forget to return?)"
    text = repr(value)
    text = text if len(text) <= 60 else text[:57] + "..."
    return f"a {type(value).__name__} ({text})"


def to_device(obj: Any, device: torch.device | str) -> Any:
    """obj with every tensor inside lists, tuples (namedtuples too) and dicts moved to device."""
    return map_tensors(obj, lambda t: t.to(device))


def clone_tree(obj: Any) -> Any:
    """obj with every tensor replaced by an independent copy (strides and requires_grad kept)."""
    return map_tensors(obj, lambda t: t.detach().clone().requires_grad_(t.requires_grad))


def to_float64(obj: Any) -> Any:
    """obj with every real floating tensor converted to float64 (integer, bool and complex tensors kept)."""
    return map_tensors(obj, lambda t: t.to(torch.float64) if t.dtype.is_floating_point else t)


def map_tensors(obj: Any, fn: Callable[[torch.Tensor], Any]) -> Any:
    """obj with `fn` applied to every tensor inside lists, tuples (namedtuples too) and dicts."""
    if isinstance(obj, torch.Tensor):
        return fn(obj)
    if isinstance(obj, dict):
        mapped = {key: map_tensors(item, fn) for key, item in obj.items()}
        return mapped if type(obj) is dict else _rebuild_mapping(obj, mapped)
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return type(obj)(*(map_tensors(item, fn) for item in obj))
    if isinstance(obj, (list, tuple)):
        items = [map_tensors(item, fn) for item in obj]
        return items if type(obj) is list else tuple(items) if type(obj) is tuple else type(obj)(items)
    return obj


def _rebuild_mapping(original: dict[Any, Any], items: dict[Any, Any]) -> dict[Any, Any]:
    try:
        return type(original)(items)
    except TypeError:
        return items


def generate(
    get_inputs: Callable[[], object], seed: int, device: torch.device | None = None
) -> tuple[list[Any], dict[str, Any]]:
    """get_inputs() under `seed`, split into args and kwargs. With `device`, its factory calls (torch.randn …)
    make the tensors there, so large inputs are not drawn on the CPU and copied over. A get_inputs that cannot
    run that way (numpy, .numpy(), a CPU-only op) is run again as written."""
    if device is not None:
        try:
            with seeded(seed), device:
                return split_args(get_inputs(), "get_inputs()")
        except Exception:
            pass
    with seeded(seed):
        return split_args(get_inputs(), "get_inputs()")


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Seed torch (CPU and CUDA), random and numpy, and restore their previous states on exit."""
    np_random = _numpy_random()
    python_state = random.getstate()
    torch_state = torch.get_rng_state()
    cuda_states = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None
    numpy_state = np_random.get_state() if np_random is not None else None
    try:
        random.seed(seed)
        torch.manual_seed(seed)  # also seeds every CUDA device
        if np_random is not None:
            np_random.seed(seed % 2**32)
        yield
    finally:
        random.setstate(python_state)
        torch.set_rng_state(torch_state)
        if cuda_states is not None:
            torch.cuda.set_rng_state_all(cuda_states)
        if np_random is not None:
            np_random.set_state(numpy_state)


def _numpy_random() -> Any:
    try:
        import numpy
    except ImportError:
        return None
    return numpy.random


def same_inputs(first: Any, second: Any) -> bool:
    """True when two trials' inputs are equal in structure and every tensor and value (NaN equals NaN)."""
    if isinstance(first, torch.Tensor) or isinstance(second, torch.Tensor):
        return _same_tensor(first, second)
    if isinstance(first, Mapping) and isinstance(second, Mapping):
        return list(first) == list(second) and all(same_inputs(first[k], second[k]) for k in first)
    if isinstance(first, (list, tuple)) and isinstance(second, (list, tuple)):
        return len(first) == len(second) and all(
            same_inputs(a, b) for a, b in zip(first, second, strict=True)
        )
    try:
        return bool(first == second)
    except Exception:
        return False


def _same_tensor(first: Any, second: Any) -> bool:
    if not (isinstance(first, torch.Tensor) and isinstance(second, torch.Tensor)):
        return False
    if first.shape != second.shape or first.dtype != second.dtype:
        return False
    return bool(torch.equal(first, second.to(first.device))) or _same_with_nan(first, second)


def _same_with_nan(first: torch.Tensor, second: torch.Tensor) -> bool:
    if not (first.dtype.is_floating_point or first.dtype.is_complex):
        return False
    second = second.to(first.device)
    both_nan = torch.isnan(first) & torch.isnan(second)
    return bool(torch.all((first == second) | both_nan))


def has_tensors(inputs: Any) -> bool:
    if isinstance(inputs, torch.Tensor):
        return inputs.numel() > 0
    if isinstance(inputs, Mapping):
        return any(has_tensors(item) for item in inputs.values())
    if isinstance(inputs, (list, tuple)):
        return any(has_tensors(item) for item in inputs)
    return False


def unchanged_inputs_note(first: Any, second: Any) -> str:
    """A note when two trials got identical inputs ("" when they differ): the later trials then catch nothing."""
    if not same_inputs(first, second):
        return ""
    if not has_tensors(first):
        return (
            "get_inputs() returns no tensor data, so every trial runs on the same inputs and a kernel that "
            "remembers its answer cannot be caught; return tensors made from the global RNG"
        )
    return (
        "get_inputs() returned the same values for different seeds (it seems to use its own fixed generator "
        "or fixed data), so every trial runs on the same inputs and a kernel that remembers its answer cannot "
        "be caught; draw inputs from the global RNG (torch.randn without a generator)"
    )
