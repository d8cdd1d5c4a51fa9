"""The one place that starts processes which run user code: workers (judge, candidates, spares) and build-only
processes (engine/builds.py: batch prebuilds, draft builds, the Ray build tasks through them).

Each child gets what engine/child_setup.py makes: a private temporary folder as its TMPDIR and working directory,
an environment from the allow-list (sandbox/environment.py), and the `Policy` it confines itself with before any
user code runs (sandbox/confine.py). The parent itself is made undumpable here: same-user processes cannot read its
memory.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from typing import IO, Any, Protocol

from kernel_eval.engine.child_setup import cuda_visible_devices, environment_for
from kernel_eval.result import SandboxMode
from kernel_eval.sandbox import environment, privileges
from kernel_eval.sandbox.policy import Policy


def harden_parent() -> None:
    """The CLI, the daemon and batch hold the user's environment: no other process of the user reads them."""
    privileges.make_undumpable()


class Child(Protocol):
    """What the engine uses of a child process: a subprocess.Popen, or a fork of the template."""

    pid: int
    returncode: int | None

    def poll(self) -> int | None: ...

    def wait(self, timeout: float | None = None) -> int: ...

    def kill(self) -> None: ...


def start(
    module: str,
    args: Sequence[str],
    confinement: Policy,
    extra_env: dict[str, str] | None = None,
    device: str | None = None,
    output: IO[bytes] | int = subprocess.DEVNULL,
    pass_fds: Sequence[int] = (),
) -> Child:
    """`python -m module args` as popen starts it, with stdin /dev/null and stdout and stderr to `output`: a fork of
    the template (engine/template.py) under a sandbox, a fresh interpreter otherwise. A fresh one too under
    --sandbox off and with KERNEL_EVAL_PASS_ENV: the template must never hold what those pass on."""
    if confinement.mode is not SandboxMode.OFF and not os.environ.get(environment.PASS_ENV):
        env = _environment_on(device, confinement, extra_env)
        with _output_fd(output) as out:
            fds = {fd: fd for fd in pass_fds} | {1: out, 2: out}
            from kernel_eval.engine import template

            forked = template.start_child(module, args, env, confinement.tmp or os.getcwd(), fds)
        if forked is not None:
            return forked
    argv = [sys.executable, "-m", module, *args]
    return popen(argv, confinement, extra_env, device, stdin=subprocess.DEVNULL, stdout=output, stderr=output,
                 pass_fds=tuple(pass_fds))  # fmt: skip


@contextlib.contextmanager
def _output_fd(output: IO[bytes] | int) -> Iterator[int]:
    if not isinstance(output, int):
        yield output.fileno()
        return
    if output != subprocess.DEVNULL:
        raise ValueError("a forked child writes to a file or to /dev/null")
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        yield null
    finally:
        os.close(null)


def _environment_on(
    device: str | None, confinement: Policy, extra_env: dict[str, str] | None
) -> dict[str, str]:
    env = environment_for(confinement, extra_env)
    visible = "" if device is None else cuda_visible_devices(device)
    if visible is not None:
        env["CUDA_VISIBLE_DEVICES"] = visible
    return env


def popen(
    argv: Sequence[str],
    confinement: Policy,
    extra_env: dict[str, str] | None = None,
    device: str | None = None,
    **kwargs: Any,
) -> subprocess.Popen[bytes]:
    """Start a child in its own process group (a kill reaches its builds), confined as `confinement` says.

    On `device` cuda:N the child sees that GPU alone. With `device` None it sees no GPU. On any other device (cpu,
    "" for the default) it sees the GPUs that this process sees."""
    env = _environment_on(device, confinement, extra_env)
    return subprocess.Popen(
        list(argv),
        env=env,
        cwd=confinement.tmp or None,
        start_new_session=True,
        **kwargs,
    )
