"""The judge's requests (the trusted side: the reference), its API as a `typing.Protocol`, and its routes."""

from __future__ import annotations

from typing import Protocol

import attrs

from kernel_eval.protocol.messages import Params
from kernel_eval.protocol.routes import Routes
from kernel_eval.protocol.timing import TimeParams, TimeResult
from kernel_eval.result import Flag, Message, OutputComparison


@attrs.define
class PrepareResult:
    # payload: the reference's init args, kwargs and state_dict
    init: str
    # of the reference file the judge loaded: checked again before a verdict
    ref_sha256: str = ""


@attrs.define
class PrepareParams(Params[PrepareResult]):
    """Load the reference (kept while the file is unchanged) and build its model from `seed`."""

    METHOD = "prepare"
    RESULT = PrepareResult
    ref_src: str
    entry_point: str
    seed: int


@attrs.define
class MakeInputsResult:
    # one payload per seed, in order
    inputs: list[str]
    # e.g. inputs that do not change with the seed
    notes: list[Message] = attrs.Factory(list)
    # GPU kernels of one reference forward (None: not on CUDA)
    kernels: list[str] | None = None


@attrs.define
class MakeInputsParams(Params[MakeInputsResult]):
    """Fresh inputs from each seed. The judge runs the reference on its own copy and keeps the outputs."""

    METHOD = "make_inputs"
    RESULT = MakeInputsResult
    seeds: list[int]
    # seeds of this evaluation only (secret ones): never kept for the next
    once: list[int] = attrs.Factory(list)


@attrs.define
class CompareResult:
    # per seed, per output leaf
    trials: list[list[OutputComparison]]
    # e.g. a vacuous check
    flags: list[Flag] = attrs.Factory(list)


@attrs.define
class CompareParams(Params[CompareResult]):
    """Judge the candidate's outputs (payloads, one per seed) against the kept reference outputs."""

    METHOD = "compare"
    RESULT = CompareResult
    seeds: list[int]
    outputs: list[str]
    atol: float | None = None
    rtol: float | None = None
    # seeds used once (secret ones): dropped after comparing
    forget: list[int] = attrs.Factory(list)


@attrs.define
class JudgeTimeResult(TimeResult):
    """A reference round, with the facts about the device that the parent reads from the reference side only."""

    # how the times were taken (see kernel_eval.stages.timing.method_description)
    method: str = ""
    # False where times mean little (the CPU)
    meaningful: bool = True
    # bytes/s of a device-to-device copy, measured once per worker (0 on the CPU)
    copy_bandwidth: float = 0.0


@attrs.define
class JudgeTimeParams(TimeParams[JudgeTimeResult]):
    """One round of the reference, on its own copies of the inputs of trials `seeds`. With `fresh` (trials made
    for the custom side's round on fresh values) the same kind of round: those sets mixed in, each once."""

    RESULT = JudgeTimeResult
    seeds: list[int] = attrs.Factory(list)
    fresh: list[int] = attrs.Factory(list)


class JudgeApi(Protocol):
    """What the judge answers: one handler per request."""

    def prepare(self, params: PrepareParams) -> PrepareResult: ...

    def make_inputs(self, params: MakeInputsParams) -> MakeInputsResult: ...

    def compare(self, params: CompareParams) -> CompareResult: ...

    def time(self, params: JudgeTimeParams) -> JudgeTimeResult: ...


JUDGE_ROUTES = (
    Routes[JudgeApi]("judge")
    .add(PrepareParams, lambda judge: judge.prepare)
    .add(MakeInputsParams, lambda judge: judge.make_inputs)
    .add(CompareParams, lambda judge: judge.compare)
    .add(JudgeTimeParams, lambda judge: judge.time)
)
