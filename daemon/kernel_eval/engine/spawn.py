"""The one place that starts processes which run user code: workers (judge, candidates, spares) and build-only
processes (engine/builds.py: batch prebuilds, draft builds, the Ray build tasks through them).

Each child gets an environment from the allow-list (sandbox/environment.py), a private temporary folder as its
TMPDIR and working directory, and the `Policy` it confines itself with before any user code runs
(sandbox/confine.py). The parent itself is made undumpable here: same-user processes cannot read its memory.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any, Protocol

import kernel_eval
from kernel_eval.result import SandboxMode
from kernel_eval.sandbox import environment, privileges
from kernel_eval.sandbox.policy import POLICY_ENV, Policy

PACKAGE_ROOT = str(Path(kernel_eval.__file__).resolve().parent.parent)


def harden_parent() -> None:
    """The CLI, the daemon and batch hold the user's environment: no other process of the user reads them."""
    privileges.make_undumpable()


def private_folder(role: str) -> Path:
    """A fresh 0700 folder for one child. Its `tmp` subfolder is the child's TMPDIR and working directory."""
    folder = Path(tempfile.mkdtemp(prefix=f"kernel-eval-{role}-"))
    (folder / "tmp").mkdir(mode=0o700)
    return folder


def build_prefixes(build_dir_prefix: str) -> list[str]:
    """The build prefixes a child may write before it knows its file: the request's, and the default one that
    holds Triton's per-user helpers."""
    # imported here and in start(): the CLI imports this module, and a call its server answers starts no child
    from kernel_eval.stages.compile import cache

    prefixes = [str(cache.private_prefix()), str(cache.private_prefix(build_dir_prefix))]
    return list(dict.fromkeys(prefixes))


def policy(
    mode: SandboxMode,
    role: str,
    tmp: Path,
    build_dir_prefix: str = "",
    payload: str = "",
    readable: Sequence[str] = (),
) -> Policy:
    return Policy(
        mode=mode,
        role=role,
        tmp=str(tmp),
        payload=payload,
        prefixes=build_prefixes(build_dir_prefix),
        readable=[PACKAGE_ROOT, *readable],
    )


def environment_for(confinement: Policy, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The child's environment: allow-listed (all of it under --sandbox off), kernel_eval importable, its
    temporary folder in every variable a tool reads one from, and its policy."""
    dropped: list[str] = []
    if confinement.mode is SandboxMode.OFF:
        env = dict(os.environ)
    else:
        env, dropped = environment.confined(os.environ)
    confinement.env_dropped = dropped
    _point_at(env, confinement.tmp)
    env.update(extra or {})
    env[POLICY_ENV] = confinement.to_env()
    return env


def template_environment(tmp: Path) -> dict[str, str]:
    """The template's: the allow-list without the names a user passes on (KERNEL_EVAL_PASS_ENV), and one OpenMP
    thread (its children set their own count)."""
    env, _ = environment.confined({k: v for k, v in os.environ.items() if k != environment.PASS_ENV})
    tmp.mkdir(mode=0o700, exist_ok=True)
    _point_at(env, str(tmp))
    env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = "1"
    return env


def _point_at(env: dict[str, str], tmp: str) -> None:
    """kernel_eval importable, output unbuffered, no bytecode written, `tmp` as every temporary folder."""
    env["PYTHONPATH"] = os.pathsep.join(p for p in (PACKAGE_ROOT, env.get("PYTHONPATH", "")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.pop("TRITON_INTERPRET", None)
    if tmp:
        env["TMPDIR"] = tmp
        env["TRITON_HOME"] = tmp  # Triton's dump and override folders, not ~/.triton
        # CUDA's JIT cache, CuPy's and Numba's kernel caches: not in HOME, which a confined child may not write
        for name, folder in (
            ("CUDA_CACHE_PATH", "cuda-jit"),
            ("CUPY_CACHE_DIR", "cupy"),
            ("NUMBA_CACHE_DIR", "numba"),
        ):
            env[name] = os.path.join(tmp, folder)


def cuda_visible_devices(device: str) -> str | None:
    """cuda:N runs as device 0 of its worker, so code that hard-codes device 0 still lands on N."""
    if device.startswith("cuda"):
        _, _, index = device.partition(":")
        return index or "0"
    return None


class Child(Protocol):
    """What the engine uses of a child process: a subprocess.Popen, or a fork of the template."""

    pid: int
    returncode: int | None

    def poll(self) -> int | None: ...

    def wait(self, timeout: float | None = None) -> int: ...

    def kill(self) -> None: ...


def start(
    argv: Sequence[str],
    confinement: Policy,
    extra_env: dict[str, str] | None = None,
    device: str | None = None,
    output: IO[bytes] | int = subprocess.DEVNULL,
    pass_fds: Sequence[int] = (),
) -> Child:
    """As popen, with stdin /dev/null and stdout and stderr to `output`: a fork of the template
    (engine/template.py) when `argv` runs a forkable module under a sandbox, a fresh interpreter otherwise. A fresh one
    too under --sandbox off and with KERNEL_EVAL_PASS_ENV: the template must never hold what those pass on."""
    module = argv[2] if len(argv) > 2 and argv[0] == sys.executable and argv[1] == "-m" else ""
    if module and confinement.mode is not SandboxMode.OFF and not os.environ.get(environment.PASS_ENV):
        env = _environment_on(device, confinement, extra_env)
        with _output_fd(output) as out:
            fds = {fd: fd for fd in pass_fds} | {1: out, 2: out}
            from kernel_eval.engine import template

            forked = template.start_child(module, argv[3:], env, confinement.tmp or os.getcwd(), fds)
        if forked is not None:
            return forked
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
