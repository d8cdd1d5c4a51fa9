"""The candidate's requests (the disposable side: the user's code), its API as a `typing.Protocol`, and its
routes."""

from __future__ import annotations

from typing import Protocol

import attrs

from kernel_eval.protocol.messages import Params
from kernel_eval.protocol.routes import Routes
from kernel_eval.protocol.timing import TimeParams, TimeResult
from kernel_eval.result import Backend, Message, SandboxRecord
from kernel_eval.stages.timing.threads import ForeignThread


@attrs.define
class LoadResult:
    notes: list[Message]
    cache_dir: str
    # what confined the custom code as it was imported
    sandbox: SandboxRecord | None = None


@attrs.define
class LoadParams(Params[LoadResult]):
    """Build and import the custom file, and build its model from the reference's init payload."""

    METHOD = "load"
    RESULT = LoadResult
    custom_src: str
    entry_point: str
    seed: int
    init: str
    backend: Backend
    build_dir_prefix: str = ""
    clear_cache: bool = False


@attrs.define
class RunResult:
    # one payload per input payload, in order, up to a rejected one
    outputs: list[str]
    # why the next trial's output was not plain data (it was not saved, and the runs stopped)
    rejected: str = ""
    # GPU kernels of one custom forward (None: not on CUDA)
    kernels: list[str] | None = None


@attrs.define
class RunParams(Params[RunResult]):
    """Run forward once on each input payload."""

    METHOD = "run"
    RESULT = RunResult
    inputs: list[str]


@attrs.define
class CandidateTimeResult(TimeResult):
    """A custom round, with the audit of what the custom code did while it was timed."""

    # timing functions replaced since the worker bound its clocks
    tampered: list[str] = attrs.Factory(list)
    # with `keep`: payloads of outputs made while timing (kept at random, and every one on a fresh set)
    kept: list[str] = attrs.Factory(list)
    # the input set of each kept output: indices past the rotated sets are the round's fresh sets
    kept_sets: list[int] = attrs.Factory(list)
    # persisting-L2 state found set before a timed call
    l2_persistence: list[str] = attrs.Factory(list)
    # threads the custom module left running (stages/timing/threads.py)
    threads: list[ForeignThread] = attrs.Factory(list)


@attrs.define
class CandidateTimeParams(TimeParams[CandidateTimeResult]):
    """One round of the custom model on the payloads `inputs`. With `keep` it returns outputs made while timing."""

    RESULT = CandidateTimeResult
    inputs: list[str] = attrs.Factory(list)
    keep: bool = False
    # payloads of input sets drawn for this round alone, each timed once among the rotated ones
    fresh: list[str] = attrs.Factory(list)


class CandidateApi(Protocol):
    """What the candidate answers: one handler per request."""

    def load(self, params: LoadParams) -> LoadResult: ...

    def run(self, params: RunParams) -> RunResult: ...

    def time(self, params: CandidateTimeParams) -> CandidateTimeResult: ...


CANDIDATE_ROUTES = (
    Routes[CandidateApi]("candidate")
    .add(LoadParams, lambda candidate: candidate.load)
    .add(RunParams, lambda candidate: candidate.run)
    .add(CandidateTimeParams, lambda candidate: candidate.time)
)
