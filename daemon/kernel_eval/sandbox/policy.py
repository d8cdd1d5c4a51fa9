"""The confinement a parent asks of a child: passed as JSON in the child's environment (nothing in it is secret)."""

from __future__ import annotations

import json
import os

import attrs

from kernel_eval.result import SandboxMode, from_data, to_data

POLICY_ENV = "KERNEL_EVAL_SANDBOX"
ABI_LIMIT_ENV = "KERNEL_EVAL_LANDLOCK_ABI"
"""Use at most this Landlock ABI (0: none), as on an older kernel, for trying `strict` and the fallbacks."""


@attrs.define
class Policy:
    mode: SandboxMode = SandboxMode.OFF
    role: str = "candidate"
    """candidate and build: user code under test (confined). judge: the trusted reference (no file rules)."""
    tmp: str = ""
    """The child's private temporary folder: its TMPDIR and working directory."""
    payload: str = ""
    """The child's own payload folder (tensors it hands over), readable by the other workers."""
    prefixes: list[str] = attrs.Factory(list)
    """Build prefixes: writable from the start (a spare does not know its file yet), readable throughout."""
    readable: list[str] = attrs.Factory(list)
    """Beyond the system, Python and the user's file: what the child may read once confined to its file."""
    env_dropped: list[str] = attrs.Factory(list)
    """Names of the caller's environment variables the child was not given."""

    def to_env(self) -> str:
        return json.dumps(to_data(self))

    @classmethod
    def from_env(cls) -> Policy:
        text = os.environ.get(POLICY_ENV, "")
        return from_data(json.loads(text), cls) if text else cls()
