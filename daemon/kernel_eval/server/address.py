"""Where a server listens: a per-user 0700 folder, and a socket named by a fingerprint of everything that decides
how it evaluates (the Python, kernel-eval's code, the environment its workers get). A caller only ever reaches a
server that would evaluate exactly as it would itself."""

from __future__ import annotations

import hashlib
import os
import socket
import stat
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

from kernel_eval.sandbox import environment

FOLDER_NAME = "kernel-eval"
SUN_PATH_MAX = 107
"""The longest path a Unix socket can bind (sun_path holds 108 bytes with its NUL)."""


class AddressProblem(Exception):
    """The folder or socket cannot be used safely: no server for this call."""


class Address(NamedTuple):
    """A server's folder and fingerprint (standard library only: the thin client works it out too)."""

    folder: Path
    fingerprint: str

    @property
    def socket(self) -> Path:
        return self.folder / f"{self.fingerprint}.sock"

    @property
    def lock(self) -> Path:
        return self.folder / f"{self.fingerprint}.lock"

    @property
    def log(self) -> Path:
        return self.folder / f"{self.fingerprint}.log"


def address(env: Mapping[str, str] | None = None) -> Address:
    """This user's server address for this Python, this code and this environment; the folder made and checked."""
    env = os.environ if env is None else env
    found = Address(private_folder(env), fingerprint(env))
    if len(os.fsencode(found.socket)) > SUN_PATH_MAX:
        raise AddressProblem(f"the socket path {found.socket} is too long for a Unix socket")
    return found


def folder_for(env: Mapping[str, str]) -> Path:
    """$XDG_RUNTIME_DIR/kernel-eval when XDG_RUNTIME_DIR is set and ours, else /tmp/kernel-eval-<uid>."""
    runtime = env.get("XDG_RUNTIME_DIR", "")
    if runtime and os.path.isabs(runtime):
        try:
            if os.stat(runtime).st_uid == os.getuid():
                return Path(runtime) / FOLDER_NAME
        except OSError:
            pass
    return Path(f"/tmp/{FOLDER_NAME}-{os.getuid()}")


def private_folder(env: Mapping[str, str]) -> Path:
    """The folder, made 0700 if absent; refused unless it is a directory of ours that no one else may enter."""
    folder = folder_for(env)
    try:
        folder.mkdir(mode=0o700)
    except FileExistsError:
        pass
    except OSError as exc:
        raise AddressProblem(f"cannot make {folder}: {exc.strerror}") from exc
    check_private(folder)
    return folder


def check_private(folder: Path) -> None:
    try:
        info = os.lstat(folder)
    except OSError as exc:
        raise AddressProblem(f"cannot use {folder}: {exc.strerror}") from exc
    if not stat.S_ISDIR(info.st_mode):
        raise AddressProblem(f"{folder} is not a directory")
    if info.st_uid != os.getuid():
        raise AddressProblem(f"{folder} belongs to uid {info.st_uid}, not to this user ({os.getuid()})")
    if info.st_mode & 0o077:
        raise AddressProblem(
            f"{folder} has mode {stat.S_IMODE(info.st_mode):04o}: others may enter it (need 0700)"
        )


def fingerprint(env: Mapping[str, str]) -> str:
    """16 hex digits of a hash of the interpreter, kernel-eval's code (path, and each .py file's name, size and
    mtime) and the environment its workers are given (with TMPDIR, where their folders are made)."""
    digest = hashlib.sha256()
    package = Path(__file__).resolve().parent.parent
    digest.update(f"{sys.executable}\0{package}\0".encode())
    for file in sorted(package.rglob("*.py")):
        info = file.stat()
        digest.update(f"{file.relative_to(package)}\0{info.st_size}\0{info.st_mtime_ns}\0".encode())
    kept, _ = environment.confined(env)
    kept["CUDA_VISIBLE_DEVICES"] = env.get("CUDA_VISIBLE_DEVICES", "<unset>")
    kept["TMPDIR"] = env.get("TMPDIR", "<unset>")  # where the workers' private folders are made
    for name in sorted(kept):
        digest.update(f"{name}={kept[name]}\0".encode())
    return digest.hexdigest()[:16]


def peer_uid(connection: socket.socket) -> int:
    """The uid of the process at the other end of a Unix socket (SO_PEERCRED)."""
    credentials = connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12)
    return int.from_bytes(credentials[4:8], sys.byteorder)


def peer_pid(connection: socket.socket) -> int:
    credentials = connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12)
    return int.from_bytes(credentials[0:4], sys.byteorder)
