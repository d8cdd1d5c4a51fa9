"""Which correctness trials run (whether their inputs really differ: kernel_eval.stages.inputs).

One trial cannot catch a kernel that remembers its answer by input shape or data pointer, and seeds derived from
the request can be known in advance. So at least MIN_DERIVED_TRIALS trials run on seeds derived from the request
(reproducible), and SECRET_TRIALS more on seeds drawn from the operating system when the evaluation starts: they
appear in no request, file or environment variable before the trial runs.
"""

from __future__ import annotations

import secrets

import attrs

MIN_DERIVED_TRIALS = 2
SECRET_TRIALS = 1
SECRET_SEED_BITS = 63


@attrs.frozen
class PlannedTrial:
    index: int
    seed: int
    secret: bool = False


def plan_trials(base_seed: int, num_correct_trials: int) -> list[PlannedTrial]:
    """max(num_correct_trials, 2) trials on seeds base_seed + 1, + 2, ..., then the secret-seed trial(s)."""
    derived = max(num_correct_trials, MIN_DERIVED_TRIALS)
    planned = [PlannedTrial(index, base_seed + 1 + index) for index in range(derived)]
    used = {trial.seed for trial in planned}
    for index in range(derived, derived + SECRET_TRIALS):
        seed = _secret_seed(used)
        used.add(seed)
        planned.append(PlannedTrial(index, seed, secret=True))
    return planned


def secret_seeds(count: int) -> list[int]:
    """`count` distinct seeds drawn from the operating system (the timing's fresh input sets)."""
    used: set[int] = set()
    for _ in range(count):
        used.add(_secret_seed(used))
    return sorted(used)


def _secret_seed(used: set[int]) -> int:
    while True:
        seed = secrets.randbits(SECRET_SEED_BITS)
        if seed not in used:
            return seed
