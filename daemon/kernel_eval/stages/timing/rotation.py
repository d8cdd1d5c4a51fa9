"""Fresh values while timing: the forward is called on several input sets in turn (same shapes, fresh values), and
the outputs of the last pass over the sets are kept, so the judge can check afterwards that what was timed was a
real computation on those inputs (a module that remembers its first result fails: `remembered_result`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from kernel_eval.stages.inputs import clone_tree

InputSet = tuple[list[Any], dict[str, Any]]


class Rotation:
    def __init__(self, forward: Callable[..., object], sets: Sequence[InputSet]) -> None:
        if not sets:
            raise ValueError("a rotation needs at least one input set")
        self.forward = forward
        self.sets = list(sets)
        self.calls = 0
        self.last_set = -1
        self.kept: dict[int, Any] = {}  # set index -> an output made on it while timing (an independent copy)

    def __call__(self) -> object:
        self.last_set = self.calls % len(self.sets)
        self.calls += 1
        args, kwargs = self.sets[self.last_set]
        return self.forward(*args, **kwargs)

    def after(self, index: int, count: int, output: object) -> None:
        """The timer's hook, outside the timed region: copy the outputs of a round's last pass over the sets."""
        if index >= count - len(self.sets):
            self.kept[self.last_set] = clone_tree(output)
