"""The messages between the engine and the template process (engine/template.py, worker/template.py).

One SOCK_SEQPACKET socket pair: a message is one packet of JSON, a `Fork` carries its file descriptors with it
(SCM_RIGHTS). Every fork has an id, and the template answers it with a `Forked` of the same id. The template says
`Exited` for each child it reaps, in the order things happen, so an exit always arrives before a later fork that
reuses the pid.
"""

from __future__ import annotations

import json
from typing import Any

import attrs

from kernel_eval.result import from_data, to_data

FORKABLE = ("kernel_eval.worker.main", "kernel_eval.worker.build_only")
"""The only entry points a forked child may run: each has `main(argv) -> int` and confines itself first."""
MAX_PACKET = 1 << 20
MAX_FDS = 8


@attrs.define
class TemplateReady:
    """Sent once, after the template has imported everything and has one thread."""

    pid: int
    threads: int
    seconds: float


@attrs.define
class Fork:
    """Start a child: `module`'s main(argv), with exactly `env`, in `cwd`, in a new session. The descriptors
    that travel with the message take the numbers in `fds`, in order (1 and 2: its output)."""

    id: int
    module: str
    argv: list[str]
    env: dict[str, str]
    cwd: str
    fds: list[int]


@attrs.define
class Forked:
    """The answer to the Fork of the same id: its pid, or why there is none."""

    id: int
    pid: int = 0
    error: str = ""


@attrs.define
class Exited:
    """A child the template has reaped; `returncode` as subprocess spells it (-N: killed by signal N)."""

    pid: int
    returncode: int


Message = TemplateReady | Fork | Forked | Exited
_KINDS: dict[str, type[Any]] = {cls.__name__: cls for cls in (TemplateReady, Fork, Forked, Exited)}


def encode(message: Message) -> bytes:
    return json.dumps({"kind": type(message).__name__, "body": to_data(message)}).encode()


def decode(packet: bytes) -> Message:
    data = json.loads(packet)
    return from_data(data["body"], _KINDS[data["kind"]])  # type: ignore[no-any-return]
