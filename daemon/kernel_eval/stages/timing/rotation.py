"""Fresh values while timing. The forward always receives the same tensors (the "live" set), and before each timed
call, outside the timed region, the next input set's values are copied into them in place: a module that keys a
cache on tensor identity, pointer or shape returns a stale result.

On the custom side outputs are kept for the judge to check against the reference on the same inputs
(`remembered_result`), and which ones is decided only after each call has returned, from the operating system's
randomness: a few calls from every round (a reservoir sample, in the profiled and event-timed loops alike), so
nothing the module can read before it returns says whether its output will be looked at.

The last round follows a `Schedule` (fresh.py): input sets drawn for that round alone, each loaded once at its
place among the rotated ones. Every output made on them is kept, and some of the others. Loading a set is the same
copy whatever the set, so nothing tells the module which calls are on fresh values but the values themselves."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any

import attrs
import torch

from kernel_eval.stages.inputs import clone_tree
from kernel_eval.stages.timing.floor import tensors
from kernel_eval.stages.timing.fresh import Schedule

InputSet = tuple[list[Any], dict[str, Any]]
# outputs of the rounds before the last kept at random: a module wrong on half its calls gets by 1 in 8
SAMPLED = 3
SAMPLED_IN_FRESH_ROUND = 2  # of its calls on seen sets (each output costs a copy, a save and a comparison)
_RANDOM = random.SystemRandom()  # os.urandom: nothing in the process predicts it


@attrs.define
class Reservoir:
    """(set index, a copy of an output made on it), at most a fixed number, and how many calls were offered."""

    kept: list[tuple[int, Any]] = attrs.Factory(list)
    offered: int = 0


class Rotation:
    """The timer's call and hooks: `before()` loads the next set, `__call__` runs forward, `after()` keeps."""

    def __init__(self, forward: Callable[..., object], sets: Sequence[InputSet], audit: bool = False) -> None:
        if not sets:
            raise ValueError("a rotation needs at least one input set")
        self.forward = forward
        self.sets = list(sets)
        self.live_args, self.live_kwargs = clone_tree(self.sets[0])
        self._check_same_layout()
        self.audit = audit  # keep outputs for the judge (the custom side)
        self.calls = 0
        self.current = 0  # the set whose values the live tensors hold
        self.fresh: list[InputSet] = []  # this round's own sets: indices len(sets) ... in a schedule
        self.schedule: Schedule | None = None
        self._round_start = 0
        self._sampled = Reservoir()  # rounds on seen values
        self._seen_in_fresh_round = Reservoir()
        self._fresh_kept: list[tuple[int, Any]] = []  # every call on a fresh set

    def plan(self, schedule: Schedule | None = None, fresh: Sequence[InputSet] = ()) -> None:
        """The next round's schedule (None: the plain rotation) and the fresh sets it names."""
        self.schedule, self.fresh = schedule, list(fresh)
        if schedule is not None:
            self._check_same_layout(self.fresh)
        self._round_start = self.calls

    def restart_sample(self) -> None:
        """A new evaluation's timing: what earlier ones kept is not its to check."""
        self._sampled, self._seen_in_fresh_round, self._fresh_kept = Reservoir(), Reservoir(), []

    def take_kept(self) -> list[tuple[int, Any]]:
        """Every output kept since the sample restarted, and forget them."""
        kept = self._fresh_kept + self._seen_in_fresh_round.kept + self._sampled.kept
        self.restart_sample()
        return kept

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
        if not self.audit:
            return
        if self.current >= len(self.sets):
            self._fresh_kept.append((self.current, self._copy(output)))
            return
        if self.schedule is not None:
            self._offer(self._seen_in_fresh_round, SAMPLED_IN_FRESH_ROUND, output)
        else:
            self._offer(self._sampled, SAMPLED, output)

    def _offer(self, reservoir: Reservoir, size: int, output: object) -> None:
        """Reservoir sampling: after n offers each call is kept with chance size / n, decided now."""
        reservoir.offered += 1
        if len(reservoir.kept) < size:
            reservoir.kept.append((self.current, self._copy(output)))
            return
        slot = _RANDOM.randrange(reservoir.offered)
        if slot < size:
            reservoir.kept[slot] = (self.current, self._copy(output))

    @staticmethod
    def _copy(output: object) -> Any:
        copy = clone_tree(output)
        if any(t.is_cuda for t in tensors([copy], {})):
            torch.cuda.synchronize()  # the copy is waited for here, not in the gap before the next call
        return copy

    def _values(self, index: int) -> InputSet:
        return self.sets[index] if index < len(self.sets) else self.fresh[index - len(self.sets)]

    def _check_same_layout(self, others: Sequence[InputSet] | None = None) -> None:
        layout = [(t.shape, t.dtype) for t in tensors(self.live_args, self.live_kwargs)]
        for values in self.sets[1:] if others is None else others:
            if [(t.shape, t.dtype) for t in tensors(*values)] != layout:
                raise ValueError("input sets differ in shape or dtype: their values cannot rotate in place")
