"""Tensors between workers: saved on the host, loaded with weights_only so a payload cannot run code."""

from __future__ import annotations

import io
from typing import Any

import torch

from kernel_eval.errors import fail
from kernel_eval.inputs import to_device
from kernel_eval.result import Phase


def pack(obj: Any) -> bytes:
    buffer = io.BytesIO()
    torch.save(to_device(_detached(obj), "cpu"), buffer)
    return buffer.getvalue()


def unpack(blob: bytes, device: torch.device) -> Any:
    return to_device(torch.load(io.BytesIO(blob), weights_only=True), device)


def pack_output(obj: Any, phase: Phase) -> bytes:
    try:
        return pack(obj)
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
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return tuple(_detached(v) for v in obj)
    if isinstance(obj, list | tuple):
        return type(obj)(_detached(v) for v in obj)
    if isinstance(obj, dict):
        return {k: _detached(v) for k, v in obj.items()}
    return obj
