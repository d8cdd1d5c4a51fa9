"""Persisting-L2 state, undone before every timed call, so that a flush means a flush.

A module can set aside part of the L2 for persisting accesses (cudaDeviceSetLimit with
cudaLimitPersistingL2CacheSize) and mark its inputs persisting through an access policy window on a stream: those
lines then survive the timer's flush, and every call finds its data cached. Before each timed call (outside the
timed region) the set-aside is put back to zero when something raised it, the window on the caller's stream is
cleared, and persisting lines are reset to normal. What was found is remembered for `take_found()`: the candidate
reports it, and the evaluation flags it (`l2_persistence`).

The calls go through the CUDA runtime torch itself loaded (found in /proc/self/maps), so they act on the same
context. Where no runtime can be found (a CPU build), nothing is done.
"""

from __future__ import annotations

import ctypes
import os

import torch

LIMIT_PERSISTING_L2_CACHE_SIZE = 0x06  # cudaLimitPersistingL2CacheSize
ATTRIBUTE_ACCESS_POLICY_WINDOW = 1  # cudaStreamAttributeAccessPolicyWindow
ATTRIBUTE_VALUE_BYTES = 64  # sizeof(cudaStreamAttrValue), a union, with the window's num_bytes at offset 8

_runtime: ctypes.CDLL | None = None
_looked = False
_found: list[str] = []


def start_clean() -> None:
    """At a worker's start, before any user code runs: the set-aside a new context is given (11.25 MiB on an H200
    with driver 580) goes back to zero, so that a set-aside found before a timed call was raised by the module."""
    runtime = _cuda_runtime()
    if runtime is not None:
        runtime.cudaDeviceSetLimit(LIMIT_PERSISTING_L2_CACHE_SIZE, ctypes.c_size_t(0))


def reset_persisting() -> None:
    runtime = _cuda_runtime()
    if runtime is None:
        return
    limit = ctypes.c_size_t(0)
    if runtime.cudaDeviceGetLimit(ctypes.byref(limit), LIMIT_PERSISTING_L2_CACHE_SIZE) == 0 and limit.value:
        _note(f"a persisting-L2 set-aside of {limit.value} bytes (cudaLimitPersistingL2CacheSize)")
        runtime.cudaDeviceSetLimit(LIMIT_PERSISTING_L2_CACHE_SIZE, ctypes.c_size_t(0))
    _clear_window(runtime)
    runtime.cudaCtxResetPersistingL2Cache()


def take_found() -> list[str]:
    """What was found set since the last call (each kind once), and forget it."""
    found = list(_found)
    _found.clear()
    return found


def _clear_window(runtime: ctypes.CDLL) -> None:
    stream = ctypes.c_void_p(torch.cuda.current_stream().cuda_stream)
    value = (ctypes.c_ubyte * ATTRIBUTE_VALUE_BYTES)()
    if runtime.cudaStreamGetAttribute(stream, ATTRIBUTE_ACCESS_POLICY_WINDOW, ctypes.byref(value)) != 0:
        return
    num_bytes = ctypes.c_size_t.from_buffer(value, 8).value
    if num_bytes:
        _note(f"an access policy window of {num_bytes} bytes on the caller's stream")
        cleared = (ctypes.c_ubyte * ATTRIBUTE_VALUE_BYTES)()
        runtime.cudaStreamSetAttribute(stream, ATTRIBUTE_ACCESS_POLICY_WINDOW, ctypes.byref(cleared))


def _note(what: str) -> None:
    if what not in _found:
        _found.append(what)


def _cuda_runtime() -> ctypes.CDLL | None:
    global _runtime, _looked
    if not _looked:
        _looked = True
        _runtime = _load_runtime()
    return _runtime


def _load_runtime() -> ctypes.CDLL | None:
    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps if "libcudart.so" in line}
    except OSError:
        paths = set()
    for path in sorted(paths):
        try:
            runtime = ctypes.CDLL(path, mode=os.RTLD_NOLOAD | os.RTLD_LAZY)
        except OSError:
            continue
        for name in ("cudaDeviceGetLimit", "cudaDeviceSetLimit", "cudaCtxResetPersistingL2Cache"):
            getattr(runtime, name).restype = ctypes.c_int
        return runtime
    return None
