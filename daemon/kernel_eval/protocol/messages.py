"""What the engine (parent) and both of its workers (children) share on the wire.

Every request is an `Envelope` with an id and a method. The worker answers with a `Reply` that carries the same id
and either the method's result or the error messages. Each operation is a Params/Result pair of attrs classes,
converted to JSON by `kernel_eval.result`'s cattrs converter. The judge's pairs are in `protocol.judge`, the
candidate's in `protocol.candidate`. Tensors never travel here: the messages carry paths of payload files (see
kernel_eval.worker.payload).
"""

from __future__ import annotations

from typing import Any, ClassVar, Generic, TypeVar

import attrs

from kernel_eval.result import Message, SandboxRecord

# Where workers read and write payload files.
PAYLOAD_DIR_ENV = "KERNEL_EVAL_PAYLOAD_DIR"
# The id of the unasked first reply that a worker sends when it is ready.
HELLO_ID = 0

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
    """Base of every request's parameters. `METHOD` names the handler and `RESULT` the type of its reply."""

    METHOD: ClassVar[str] = ""
    RESULT: ClassVar[type]


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
