"""The CLI's servers in tests: a private runtime folder (never the user's own), and stopping what started there."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import tempfile
import time
from pathlib import Path

from kernel_eval.server import address

REPO_ROOT = Path(__file__).resolve().parent.parent


def cli_env() -> dict[str, str]:
    """The environment the tests run the CLI in (a server it starts has this fingerprint)."""
    path = os.pathsep.join(p for p in (str(REPO_ROOT / "daemon"), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path, "COLUMNS": "200"}


def runtime_dir() -> Path:
    """A short, fresh XDG_RUNTIME_DIR (a socket path must fit in 107 bytes)."""
    return Path(tempfile.mkdtemp(prefix="ke-run-", dir="/tmp"))


def server_pid(sock: Path) -> int | None:
    """The pid of the server listening on `sock`, or None when none does."""
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(str(sock))
        return address.peer_pid(probe)
    except OSError:
        return None
    finally:
        probe.close()


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with contextlib.suppress(OSError):  # a zombie (its parent has not reaped it yet) is gone for our purposes
        if Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z":
            return False
    return True


def wait_gone(pid: int, timeout_s: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def stop_servers(runtime: Path) -> None:
    """SIGTERM every server listening under `runtime` and wait for it to be gone."""
    for sock in runtime.glob(f"{address.FOLDER_NAME}/*.sock"):
        pid = server_pid(sock)
        if pid is not None:
            os.kill(pid, signal.SIGTERM)
            if not wait_gone(pid):
                os.kill(pid, signal.SIGKILL)
