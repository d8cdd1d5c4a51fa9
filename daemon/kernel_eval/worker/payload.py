"""Tensors between workers, as files in the pool's private payload directory (tmpfs where there is one).

The parent passes only paths, so a payload is copied once, not relayed through its pipes. Files are read with
torch.load(weights_only=True): a payload the candidate wrote cannot run code in the judge. The judge never
writes reference outputs to a file.

A transient payload (outputs to be judged, a secret trial's inputs) is read once, before its writer gets another
request. Its large tensors go to the writer's arena (arena.py), a file reused across requests, so a warm
re-evaluation neither serializes them nor faults in fresh pages. The payload file holds only the rest.
"""

from __future__ import annotations

import contextlib
import itertools
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from kernel_eval.errors import fail
from kernel_eval.kinds import MessageKind
from kernel_eval.result import Phase
from kernel_eval.stages.inputs import to_device
from kernel_eval.stages.timing.floor import count_bytes
from kernel_eval.worker import arena

_counter = itertools.count()


def save(obj: Any, name: str, transient: bool = False) -> str:
    path = arena.folder() / f"{name}-{os.getpid()}-{next(_counter)}.pt"
    obj = _detached(obj)
    if transient:
        obj = arena.outbox().place_tree(obj)
    with _without_checksum():
        torch.save(to_device(obj, "cpu"), path)
    return str(path)


@contextlib.contextmanager
def _without_checksum() -> Iterator[None]:
    """A payload lives milliseconds in a private folder, where the zip format's CRC-32 guards nothing and costs
    more than the write itself (45 of 72 ms for 64 MiB). torch.load reads such files all the same."""
    settings = getattr(getattr(torch.utils, "serialization", None), "config", None)
    save_settings = getattr(settings, "save", None)
    if save_settings is None or not hasattr(save_settings, "compute_crc32"):
        yield
        return
    previous = save_settings.compute_crc32
    save_settings.compute_crc32 = False
    try:
        yield
    finally:
        save_settings.compute_crc32 = previous


def load(path: str, device: torch.device, remove: bool = False) -> Any:
    file = Path(path).resolve()
    if file.parent.parent != arena.folder().resolve().parent:
        raise fail(
            Phase.CHECK, MessageKind.INTERNAL_ERROR, f"payload {file} is outside the pool's payload directory"
        )
    try:
        return arena.take_tree(to_device(torch.load(file, weights_only=True, mmap=True), device), device)
    finally:
        if remove:
            file.unlink(missing_ok=True)


def save_output(obj: Any, phase: Phase) -> str:
    try:
        return save(obj, "output", transient=True)
    except Exception as exc:
        raise fail(
            phase,
            MessageKind.UNSUPPORTED_OUTPUT,
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


class TrialInputs:
    """The candidate's copies of the judge's trial inputs, kept on the device between evaluations.

    The judge keeps a trial's input file while its reference is unchanged (one path per seed; secret seeds get a
    new path each time), so a warm re-evaluation reads only what is new. A file is read again when its stamp
    changes. Entries of paths the current request does not name are dropped. Inputs over the byte cap are not kept.
    Forward always gets clones, so user code never holds what is kept here.
    """

    CAP_BYTES = 1 << 30

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self._kept: dict[str, tuple[tuple[int, int, int], Any, int]] = {}
        """(stamp, inputs, bytes) of each path."""

    def keep_only(self, paths: list[str]) -> None:
        self._kept = {path: entry for path, entry in self._kept.items() if path in paths}

    def get(self, path: str) -> Any:
        stamp = _stamp(path)
        entry = self._kept.get(path)
        if entry is not None and entry[0] == stamp:
            return entry[1]
        inputs = load(path, self.device)
        size = count_bytes(inputs)
        if size + sum(kept[2] for kept in self._kept.values()) <= self.CAP_BYTES:
            self._kept[path] = (stamp, inputs, size)
        return inputs


def _stamp(path: str) -> tuple[int, int, int]:
    try:
        info = os.stat(path)
    except OSError:
        return (0, 0, 0)  # load() says what is wrong with the path
    return (info.st_ino, info.st_mtime_ns, info.st_size)
