"""The typed messages between the engine (parent) and its judge and candidate workers (children).

Both sides import this one module. Every request is an `Envelope` with an id and a method; the worker answers with
a `Reply` carrying the same id and either the method's result or the error messages. Each operation is a
Params/Result pair of attrs classes, converted to JSON by `kernel_eval.result`'s cattrs converter. Tensors never
travel here: the messages carry paths of payload files (see kernel_eval.worker.payload).
"""

from __future__ import annotations

from typing import Any, ClassVar, Generic, TypeVar

import attrs

from kernel_eval.result import Backend, Flag, Message, OutputComparison, SandboxRecord
from kernel_eval.stages.timing.fresh import FreshTimes
from kernel_eval.stages.timing.record import Round
from kernel_eval.stages.timing.threads import ForeignThread

PAYLOAD_DIR_ENV = "KERNEL_EVAL_PAYLOAD_DIR"  # where workers read and write payload files
HELLO_ID = 0  # the id of the unasked first reply a worker sends when it is ready

R = TypeVar("R")


@attrs.define
class Hello:
    """What a worker says once, when torch is imported and its device is ready."""

    pid: int
    device: str
    torch_version: str
    cuda_version: str
    cuda_available: bool
    gpu_name: str
    gpu_arch: str
    sandbox: SandboxRecord = attrs.Factory(SandboxRecord)


@attrs.define
class Params(Generic[R]):
    """Base of every request's parameters; `METHOD` names the handler, `RESULT` the reply's type."""

    METHOD: ClassVar[str] = ""
    RESULT: ClassVar[type]


# The judge's operations (trusted: reference side).


@attrs.define
class PrepareResult:
    init: str  # payload: the reference's init args, kwargs and state_dict
    ref_sha256: str = ""  # of the reference file the judge loaded: checked again before a verdict


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
    inputs: list[str]  # one payload per seed, in order
    notes: list[Message] = attrs.Factory(list)  # e.g. inputs that do not change with the seed
    kernels: list[str] | None = None  # GPU kernels of one reference forward (None: not on CUDA)


@attrs.define
class MakeInputsParams(Params[MakeInputsResult]):
    """Fresh inputs from each seed; the judge runs the reference on its own copy and keeps the outputs."""

    METHOD = "make_inputs"
    RESULT = MakeInputsResult
    seeds: list[int]
    once: list[int] = attrs.Factory(
        list
    )  # seeds of this evaluation only (secret ones): never kept for the next


@attrs.define
class CompareResult:
    trials: list[list[OutputComparison]]  # per seed, per output leaf
    flags: list[Flag] = attrs.Factory(list)  # e.g. a vacuous check


@attrs.define
class CompareParams(Params[CompareResult]):
    """Judge the candidate's outputs (payloads, one per seed) against the kept reference outputs."""

    METHOD = "compare"
    RESULT = CompareResult
    seeds: list[int]
    outputs: list[str]
    atol: float | None = None
    rtol: float | None = None
    forget: list[int] = attrs.Factory(list)  # seeds used once (secret ones): dropped after comparing


@attrs.define
class TimeResult:
    measured: Round  # this round's samples (see kernel_eval.stages.timing.record)
    method: str = ""
    meaningful: bool = True
    bytes_moved: int = 0  # inputs + parameters + outputs of one forward (the physical floor's numerator)
    copy_bandwidth: float = 0.0  # bytes/s of a device-to-device copy, measured once per worker (0 on the CPU)
    tampered: list[str] = attrs.Factory(list)  # timing functions replaced since the worker bound its clocks
    # with `keep`: payloads of outputs made while timing (kept at random, and every one on a fresh set), their sets
    kept: list[str] = attrs.Factory(list)
    kept_sets: list[int] = attrs.Factory(list)  # indices past the rotated sets are the round's fresh sets
    # with `fresh`: call times on seen and fresh values (stages/timing/fresh.py)
    fresh: FreshTimes | None = None
    l2_persistence: list[str] = attrs.Factory(list)  # persisting-L2 state found set before a timed call
    threads: list[ForeignThread] = attrs.Factory(list)  # threads the custom module left running (threads.py)


@attrs.define
class TimeParams(Params[TimeResult]):
    """One round of `count` samples of forward, rotating the values of several input sets through the same tensors:
    the inputs of trials `seeds` (the judge) or the payloads `inputs` (the candidate). With `warmup` > 0 (a side's
    first round) it first warms up until times settle; with `keep` it returns outputs made while timing."""

    METHOD = "time"
    RESULT = TimeResult
    count: int
    warmup: int = 0
    seeds: list[int] = attrs.Factory(list)
    inputs: list[str] = attrs.Factory(list)
    keep: bool = False
    # the candidate: payloads of input sets drawn for this round alone, each timed once among the rotated ones
    fresh: list[str] = attrs.Factory(list)


# The candidate's operations (disposable: runs the user's code).


@attrs.define
class LoadResult:
    backend: Backend
    notes: list[Message]
    cache_dir: str
    sandbox: SandboxRecord | None = None  # what confined the custom code as it was imported


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
    outputs: list[str]  # one payload per input payload, in order, up to a rejected one
    rejected: str = ""  # why the next trial's output was not plain data (it was not saved; runs stopped)
    kernels: list[str] | None = None  # GPU kernels of one custom forward (None: not on CUDA)


@attrs.define
class RunParams(Params[RunResult]):
    """Run forward once on each input payload."""

    METHOD = "run"
    RESULT = RunResult
    inputs: list[str]


@attrs.define
class Envelope:
    """A request on the wire."""

    id: int
    method: str
    params: dict[str, Any]


@attrs.define
class Reply:
    """An answer on the wire: `result` on success, `error` (messages for the user) on failure."""

    id: int
    result: dict[str, Any] | None = None
    error: list[Message] | None = None


PARAMS_BY_METHOD: dict[str, type[Params[Any]]] = {
    cls.METHOD: cls
    for cls in (PrepareParams, MakeInputsParams, CompareParams, TimeParams, LoadParams, RunParams)
}
