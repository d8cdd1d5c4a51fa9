"""The one place that starts processes which run user code: workers (judge, candidates, spares) and build-only
processes (engine/builds.py: batch prebuilds, draft builds, the Ray build tasks through them).

Each child gets an environment from the allow-list (sandbox/environment.py), a private temporary folder as its
TMPDIR and working directory, and the `Policy` it confines itself with before any user code runs
(sandbox/confine.py). The parent itself is made undumpable here: same-user processes cannot read its memory.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import kernel_eval
from kernel_eval.result import SandboxMode
from kernel_eval.sandbox import environment, privileges
from kernel_eval.sandbox.policy import POLICY_ENV, Policy
from kernel_eval.stages.compile import cache

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
    env["PYTHONPATH"] = os.pathsep.join(p for p in (PACKAGE_ROOT, env.get("PYTHONPATH", "")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.pop("TRITON_INTERPRET", None)
    if confinement.tmp:
        env["TMPDIR"] = confinement.tmp
        env["TRITON_HOME"] = confinement.tmp  # Triton's dump and override folders, not ~/.triton
        # CUDA's JIT cache, CuPy's and Numba's kernel caches: not in HOME, which a confined child may not write
        for name, folder in (
            ("CUDA_CACHE_PATH", "cuda-jit"),
            ("CUPY_CACHE_DIR", "cupy"),
            ("NUMBA_CACHE_DIR", "numba"),
        ):
            env[name] = os.path.join(confinement.tmp, folder)
    env.update(extra or {})
    env[POLICY_ENV] = confinement.to_env()
    return env


def cuda_visible_devices(device: str) -> str | None:
    """cuda:N runs as device 0 of its worker, so code that hard-codes device 0 still lands on N."""
    if device.startswith("cuda"):
        _, _, index = device.partition(":")
        return index or "0"
    return None


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
    env = environment_for(confinement, extra_env)
    visible = "" if device is None else cuda_visible_devices(device)
    if visible is not None:
        env["CUDA_VISIBLE_DEVICES"] = visible
    return subprocess.Popen(
        list(argv),
        env=env,
        cwd=confinement.tmp or None,
        start_new_session=True,
        **kwargs,
    )
