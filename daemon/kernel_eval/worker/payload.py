"""Tensors between workers, as files in the pool's private payload directory (tmpfs where there is one).

The parent passes only paths, so a payload is copied once, not relayed through its pipes. Files are read with
torch.load(weights_only=True): a payload the candidate wrote cannot run code in the judge. The judge never
writes reference outputs to a file.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import Any

import torch

from kernel_eval.errors import fail
from kernel_eval.protocol.messages import PAYLOAD_DIR_ENV
from kernel_eval.result import Phase
from kernel_eval.stages.inputs import to_device

_counter = itertools.count()


def save(obj: Any, name: str) -> str:
    path = Path(os.environ[PAYLOAD_DIR_ENV]) / f"{name}-{os.getpid()}-{next(_counter)}.pt"
    torch.save(to_device(_detached(obj), "cpu"), path)
    return str(path)


def load(path: str, device: torch.device, remove: bool = False) -> Any:
    folder = Path(os.environ[PAYLOAD_DIR_ENV]).resolve()
    file = Path(path).resolve()
    if file.parent != folder:
        raise fail(Phase.CHECK, "internal_error", f"payload {file} is outside the pool's payload directory")
    try:
        return to_device(torch.load(file, weights_only=True, mmap=True), device)
    finally:
        if remove:
            file.unlink(missing_ok=True)


def save_output(obj: Any, phase: Phase) -> str:
    try:
        return save(obj, "output")
    except Exception as exc:
        raise fail(
            phase,
            "unsupported_output",
            f"forward returned a {type(obj).__name__} that cannot be compared ({exc})",
            hint="return tensors, numbers, or tuples/lists/dicts of them",
        ) from None


def _detached(obj: Any) -> Any:
    if isinstance(obj, torch.Tensor):
        return obj.detach()
    if isinstance(obj, tuple):  # namedtuples too: weights_only loading admits only plain containers
        return tuple(_detached(v) for v in obj)
    if isinstance(obj, list):
        return [_detached(v) for v in obj]
    if isinstance(obj, dict):
        return {k: _detached(v) for k, v in obj.items()}
    return obj
