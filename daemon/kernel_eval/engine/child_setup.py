"""What a child process starts with: a private folder, the `Policy` it confines itself with, and its environment
(engine/spawn.py starts it; the template, engine/template.py, gets an environment of its own from here too)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import kernel_eval
from kernel_eval.result import SandboxMode
from kernel_eval.sandbox import environment
from kernel_eval.sandbox.policy import POLICY_ENV, Policy

PACKAGE_ROOT = str(Path(kernel_eval.__file__).resolve().parent.parent)


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
