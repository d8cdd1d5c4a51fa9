"""Fresh values while timing. The forward always receives the same tensors (the "live" set), and before each timed
call, outside the timed region, the next input set's values are copied into them in place: a module that keys a
cache on tensor identity, pointer or shape returns a stale result. The outputs of a keep round's last pass over the
sets are kept, in each of the timer's loops (profiled and event-timed alike, so a forward that behaves differently
under the profiler is caught too), so the judge can check that what was timed was computed on those inputs
(`remembered_result`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from kernel_eval.stages.inputs import clone_tree
from kernel_eval.stages.timing.floor import tensors

InputSet = tuple[list[Any], dict[str, Any]]


class Rotation:
    """The timer's call and hooks: `before()` loads the next set, `__call__` runs forward, `after()` keeps."""

    def __init__(self, forward: Callable[..., object], sets: Sequence[InputSet]) -> None:
        if not sets:
            raise ValueError("a rotation needs at least one input set")
        self.forward = forward
        self.sets = list(sets)
        self.live_args, self.live_kwargs = clone_tree(self.sets[0])
        self._check_same_layout()
        self.calls = 0
        self.current = 0  # the set whose values the live tensors hold
        self.keep = False
        # (set index, an output made on it while timing: a copy), in order
        self.kept: list[tuple[int, Any]] = []

    def before(self) -> None:
        self.current = self.calls % len(self.sets)
        self.calls += 1
        if len(self.sets) > 1:
            for live, values in zip(
                tensors(self.live_args, self.live_kwargs), tensors(*self.sets[self.current]), strict=True
            ):
                live.copy_(values)

    def __call__(self) -> object:
        return self.forward(*self.live_args, **self.live_kwargs)

    def after(self, index: int, count: int, output: object) -> None:
        if self.keep and index >= count - len(self.sets):
            self.kept.append((self.current, clone_tree(output)))

    def _check_same_layout(self) -> None:
        layout = [(t.shape, t.dtype) for t in tensors(self.live_args, self.live_kwargs)]
        for values in self.sets[1:]:
            if [(t.shape, t.dtype) for t in tensors(*values)] != layout:
                raise ValueError("input sets differ in shape or dtype: their values cannot rotate in place")
