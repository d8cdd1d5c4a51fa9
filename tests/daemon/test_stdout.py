"""Only LSP reaches the daemon's stdout: Python prints, C-level writes and child processes go to stderr."""

from __future__ import annotations

import subprocess
import sys

from daemon_client import server_env

SCRIPT = """
import os, subprocess, sys
from kernel_eval.lsp.server import _reserve_stdout_for_lsp
lsp = _reserve_stdout_for_lsp()
print("python print")
sys.stdout.write("sys.stdout.write\\n")
os.write(1, b"fd 1 write\\n")
subprocess.run(["echo", "child process"])
lsp.write(b"Content-Length: 2\\r\\n\\r\\n{}")
lsp.flush()
"""


def test_stray_output_goes_to_stderr():
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, env=server_env(), timeout=60)

    assert done.returncode == 0, done.stderr
    assert done.stdout == b"Content-Length: 2\r\n\r\n{}"
    for stray in (b"python print", b"sys.stdout.write", b"fd 1 write", b"child process"):
        assert stray in done.stderr
