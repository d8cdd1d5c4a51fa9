"""A worker's arena: one file in the payload directory, reused for the large tensors of transient payloads.

The writer copies a tensor straight into its mapped arena (device to host once) and leaves a reference in the
payload in its place. The reader copies it out to its own device. A reference is valid until the writer's next
request (`Outbox.reset`). Writing into pages already mapped costs a copy, where a new file costs a serialization
and page faults on every write, and an unlink on every read.

A reference the candidate wrote is untrusted: the reader checks the file, range, dtype and shape before reading.
"""

from __future__ import annotations

import math
import mmap
import os
import re
from pathlib import Path
from typing import Any

import torch

from kernel_eval.protocol.messages import PAYLOAD_DIR_ENV
from kernel_eval.stages.inputs import map_tensors

MARKER = "kernel-eval-arena"
MIN_BYTES = 1 << 16  # smaller tensors stay inside the payload file
ALIGN = 64
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*/arena-\d+-tensors\.bin")  # the writer's folder / its arena
_DTYPES = {str(d).removeprefix("torch."): d for d in vars(torch).values() if isinstance(d, torch.dtype)}


class Outbox:
    """This process's arena: placed tensors are laid out from offset 0 again on each request."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._map: mmap.mmap | None = None
        self._size = 0
        self._used = 0

    def reset(self) -> None:
        self._used = 0

    def place_tree(self, obj: Any) -> Any:
        """obj with each large plain tensor copied into the arena and replaced by a reference to it."""
        return map_tensors(obj, lambda tensor: self._place(tensor) if _placeable(tensor) else tensor)

    def _place(self, tensor: torch.Tensor) -> tuple[Any, ...]:
        nbytes = tensor.numel() * tensor.element_size()
        start = -(-self._used // ALIGN) * ALIGN
        self._reserve(start + nbytes)
        assert self._map is not None
        target = torch.frombuffer(self._map, dtype=torch.uint8, count=nbytes, offset=start)
        target.view(tensor.dtype).view(tensor.shape).copy_(tensor)
        del target  # the map cannot grow (close) while a tensor still views it
        self._used = start + nbytes
        name = f"{self.path.parent.name}/{self.path.name}"
        return (MARKER, name, start, nbytes, _dtype_name(tensor.dtype), tuple(tensor.shape))

    def _reserve(self, end: int) -> None:
        if end <= self._size:
            return
        size = -(-max(end, 2 * self._size) // mmap.PAGESIZE) * mmap.PAGESIZE
        if self._map is not None:
            self._map.close()
        with open(self.path, "a+b") as file:
            os.ftruncate(file.fileno(), size)  # growing keeps what this request already placed
            self._map = mmap.mmap(file.fileno(), size)
        self._size = size


def _placeable(tensor: torch.Tensor) -> bool:
    """Plain dense tensors only: a subclass or an exotic layout keeps the payload file's own checks."""
    return (
        type(tensor) is torch.Tensor
        and tensor.layout is torch.strided
        and tensor.device.type in ("cpu", "cuda")
        and not tensor.is_quantized
        and _dtype_name(tensor.dtype) in _DTYPES
        and tensor.numel() * tensor.element_size() >= MIN_BYTES
    )


def _dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


_outbox: Outbox | None = None


def folder() -> Path:
    """This worker's own payload folder, inside the pool's private payload directory: it writes only here, and
    reads the other workers' folders beside it."""
    return Path(os.environ[PAYLOAD_DIR_ENV])


def outbox() -> Outbox:
    global _outbox
    path = folder() / f"arena-{os.getpid()}-tensors.bin"
    if _outbox is None or _outbox.path != path:
        _outbox = Outbox(path)
    return _outbox


def new_request() -> None:
    """The worker's previous payloads have been read: its arena is free again."""
    if _outbox is not None:
        _outbox.reset()


def take_tree(obj: Any, device: torch.device) -> Any:
    """obj with each arena reference replaced by this process's own copy on `device`."""
    if _is_reference(obj):
        return _take(obj, device)
    if isinstance(obj, (tuple, list)):
        return type(obj)(take_tree(v, device) for v in obj)
    if isinstance(obj, dict):
        return {k: take_tree(v, device) for k, v in obj.items()}
    return obj


def _is_reference(obj: Any) -> bool:
    return type(obj) is tuple and len(obj) == 6 and obj[0] == MARKER


def _take(reference: tuple[Any, ...], device: torch.device) -> torch.Tensor:
    _, name, start, nbytes, dtype_name, shape = reference
    dtype = _DTYPES.get(dtype_name) if isinstance(dtype_name, str) else None
    sizes = (start, nbytes, *shape) if type(shape) is tuple else (-1,)
    sizes_ok = all(type(v) is int and v >= 0 for v in sizes)
    if not (isinstance(name, str) and _NAME.fullmatch(name) and dtype is not None and sizes_ok):
        raise ValueError(f"malformed arena reference {reference!r}")
    assert dtype is not None
    if math.prod(shape) * dtype.itemsize != nbytes:
        raise ValueError(f"arena reference {reference!r}: shape and dtype do not make {nbytes} bytes")
    if nbytes == 0:
        return torch.empty(shape, dtype=dtype, device=device)
    with open(folder().parent / name, "rb") as file:
        if start + nbytes > os.fstat(file.fileno()).st_size:
            raise ValueError(f"arena reference {reference!r} reaches past the end of {name}")
        first_page = start - start % mmap.ALLOCATIONGRANULARITY
        mapped = mmap.mmap(
            file.fileno(), start + nbytes - first_page, offset=first_page, access=mmap.ACCESS_COPY
        )
    try:
        source = torch.frombuffer(mapped, dtype=torch.uint8, count=nbytes, offset=start - first_page)
        copy = source.view(dtype).view(shape).to(device, copy=True)
        del source
    finally:
        mapped.close()
    return copy
