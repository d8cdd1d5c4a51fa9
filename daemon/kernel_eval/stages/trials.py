"""Which correctness trials run, and whether their inputs really differ.

One trial cannot catch a kernel that remembers its answer by input shape or data pointer, and seeds derived from
the request can be known in advance. So at least MIN_DERIVED_TRIALS trials run on seeds derived from the request
(reproducible), and SECRET_TRIALS more on seeds drawn from the operating system when the evaluation starts: they
appear in no request, file or environment variable before the trial runs.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

import attrs
import torch

MIN_DERIVED_TRIALS = 2
SECRET_TRIALS = 1
SECRET_SEED_BITS = 63


@attrs.frozen
class PlannedTrial:
    index: int
    seed: int
    secret: bool = False


def plan_trials(base_seed: int, num_correct_trials: int) -> list[PlannedTrial]:
    """max(num_correct_trials, 2) trials on seeds base_seed + 1, + 2, ...; then the secret-seed trial(s)."""
    derived = max(num_correct_trials, MIN_DERIVED_TRIALS)
    planned = [PlannedTrial(index, base_seed + 1 + index) for index in range(derived)]
    used = {trial.seed for trial in planned}
    for index in range(derived, derived + SECRET_TRIALS):
        seed = _secret_seed(used)
        used.add(seed)
        planned.append(PlannedTrial(index, seed, secret=True))
    return planned


def _secret_seed(used: set[int]) -> int:
    while True:
        seed = secrets.randbits(SECRET_SEED_BITS)
        if seed not in used:
            return seed


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
