"""Processes that spin on a CPU each, in sessions of their own: the other work of a busy machine."""

from __future__ import annotations

import subprocess
import sys


class Spinners:
    """Started on demand, all stopped on leaving the `with` block."""

    def __init__(self) -> None:
        self.running: list[subprocess.Popen[bytes]] = []

    def __enter__(self) -> Spinners:
        return self

    def __exit__(self, *exc: object) -> None:
        for process in self.running:
            process.kill()
            process.wait()
        self.running.clear()

    def start(self, count: int) -> None:
        self.running += [
            subprocess.Popen([sys.executable, "-c", "while True: pass"], start_new_session=True)
            for _ in range(count)
        ]
