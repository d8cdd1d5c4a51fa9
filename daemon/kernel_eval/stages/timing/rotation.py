"""Fresh values while timing. The forward always receives the same tensors (the "live" set), and before each timed
call, outside the timed region, the next input set's values are copied into them in place: a module that keys a
cache on tensor identity, pointer or shape returns a stale result. The outputs of a keep round's last pass over the
sets are kept, in each of the timer's loops (profiled and event-timed alike, so a forward that behaves differently
under the profiler is caught too), so the judge can check that what was timed was computed on those inputs
(`remembered_result`).

A round may also follow a `Schedule` (fresh.py): input sets drawn for that round alone, each loaded once at its
place among the rotated ones, the outputs it names kept. Loading a set is the same copy whatever the set, so
nothing tells the module which calls are on fresh values but the values themselves."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from kernel_eval.stages.inputs import clone_tree
from kernel_eval.stages.timing.floor import tensors
from kernel_eval.stages.timing.fresh import Schedule

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
        self.fresh: list[InputSet] = []  # this round's own sets: indices len(sets) ... in a schedule
        self.schedule: Schedule | None = None
        self._round_start = 0

    def plan(self, keep: bool, schedule: Schedule | None = None, fresh: Sequence[InputSet] = ()) -> None:
        """The next round: whether it keeps outputs, and the schedule its calls follow (None: the plain rotation)."""
        self.keep, self.kept = keep, []
        self.schedule, self.fresh = schedule, list(fresh)
        if schedule is not None:
            self._check_same_layout(self.fresh)
        self._round_start = self.calls

    def before(self) -> None:
        position = self.calls - self._round_start
        if self.schedule is not None:
            self.current = self.schedule.sets[position]
        else:
            self.current = self.calls % len(self.sets)
        self.calls += 1
        if len(self.sets) + len(self.fresh) > 1:
            for live, values in zip(
                tensors(self.live_args, self.live_kwargs), tensors(*self._values(self.current)), strict=True
            ):
                live.copy_(values)

    def __call__(self) -> object:
        return self.forward(*self.live_args, **self.live_kwargs)

    def after(self, index: int, count: int, output: object) -> None:
        if not self.keep:
            return
        if self.schedule is not None:
            keeps = self.schedule.keep[self.calls - 1 - self._round_start]
        else:
            keeps = index >= count - len(self.sets)
        if keeps:
            copy = clone_tree(output)
            self.kept.append((self.current, copy))
            if any(t.is_cuda for t in tensors([copy], {})):
                torch.cuda.synchronize()  # the copy is waited for here, not in the gap before the next call

    def _values(self, index: int) -> InputSet:
        return self.sets[index] if index < len(self.sets) else self.fresh[index - len(self.sets)]

    def _check_same_layout(self, others: Sequence[InputSet] | None = None) -> None:
        layout = [(t.shape, t.dtype) for t in tensors(self.live_args, self.live_kwargs)]
        for values in self.sets[1:] if others is None else others:
            if [(t.shape, t.dtype) for t in tensors(*values)] != layout:
                raise ValueError("input sets differ in shape or dtype: their values cannot rotate in place")
