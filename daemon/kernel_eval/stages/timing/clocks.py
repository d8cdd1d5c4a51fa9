"""Tamper-evident clocks: every function the timer relies on, bound before any user code is imported.

`Clocks.bind()` takes a snapshot of the timing entry points (time.perf_counter, torch.cuda.Event and its methods,
torch.cuda.synchronize, the profilers…). The timer calls only those bound originals, so a module that swaps
`time.perf_counter` at import cannot shorten its own times. `check()` names whatever was replaced since, so the
evaluation can flag it (`clock_tampered`) and refuse to present the speedup.

The harness itself is watched the same way (`harness_tampered`): its timing loops, the rotation that loads input
values, what it reports with, the tensor methods it calls between timed calls (their Python objects and their
code), the dispatcher's kernels for the ATen ops behind them (an override registered with torch.library), and
the torch function and dispatch mode stacks (a mode left pushed sees every op the harness runs).
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from typing import Any

import attrs

from kernel_eval.stages.timing import threads

# (module, attribute path): attribute paths may go through classes (torch.cuda.Event.record).
WATCHED: tuple[tuple[str, str], ...] = (
    ("time", "perf_counter"),
    ("time", "perf_counter_ns"),
    ("time", "monotonic"),
    ("time", "monotonic_ns"),
    ("time", "time"),
    ("time", "time_ns"),
    ("torch.cuda", "Event"),
    ("torch.cuda", "Event.__init__"),
    ("torch.cuda", "Event.__new__"),
    ("torch.cuda", "Event.record"),
    ("torch.cuda", "Event.elapsed_time"),
    ("torch.cuda", "Event.synchronize"),
    ("torch.cuda", "Event.query"),
    ("torch.cuda", "Event.wait"),
    ("torch.cuda", "synchronize"),
    ("torch.cuda", "Stream"),
    ("torch.cuda", "Stream.__new__"),
    ("torch.cuda", "Stream.synchronize"),
    ("torch.cuda", "Stream.query"),
    ("torch.cuda", "Stream.record_event"),
    ("torch.cuda", "Stream.wait_event"),
    ("torch.cuda", "current_stream"),
    ("torch.cuda", "stream"),
    ("torch.cuda", "_sleep"),
    ("torch.profiler", "profile"),
    ("torch.profiler", "profile.__init__"),
    ("torch.profiler", "profile.__enter__"),
    ("torch.profiler", "profile.__exit__"),
    ("torch.profiler", "profile.start"),
    ("torch.profiler", "profile.stop"),
    ("torch.profiler", "profile.events"),
    ("torch.profiler", "ProfilerActivity"),
    ("torch.profiler", "record_function"),
    ("torch.autograd.profiler", "profile"),
    ("torch.autograd.profiler", "profile.__enter__"),
    ("torch.autograd.profiler", "profile.__exit__"),
    ("torch.autograd.profiler", "profile._parse_kineto_results"),
    ("torch.autograd.profiler", "record_function"),
    ("torch.autograd.profiler", "record_function.__enter__"),
    ("torch.autograd.profiler", "record_function.__exit__"),
    ("torch.autograd.profiler", "_disable_profiler"),
    ("torch.autograd.profiler", "_enable_profiler"),
)

# Not clocks, but what the timer and the candidate's report rest on: replaced, they could forge a result.
HARNESS: tuple[tuple[str, str], ...] = (
    ("kernel_eval.stages.timing.timer", "Timer.round"),
    ("kernel_eval.stages.timing.timer", "Timer._round"),
    ("kernel_eval.stages.timing.timer", "Timer._perf_counter_loop"),
    ("kernel_eval.stages.timing.cuda", "event_loop"),
    ("kernel_eval.stages.timing.cuda", "profiled_loop"),
    ("kernel_eval.stages.timing.cuda", "flush_l2"),
    ("kernel_eval.stages.timing.cuda", "after_call"),
    ("kernel_eval.stages.timing.cuda", "read_activities"),
    ("kernel_eval.stages.timing.trace", "calls"),
    ("kernel_eval.stages.timing.record", "Pacing.add"),
    ("kernel_eval.stages.timing.rotation", "Rotation.before"),
    ("kernel_eval.stages.timing.rotation", "Rotation.after"),
    ("kernel_eval.stages.timing.rotation", "Rotation.__call__"),
    ("kernel_eval.stages.timing.l2", "reset_persisting"),
    ("kernel_eval.stages.timing.l2", "take_found"),
    ("kernel_eval.stages.timing.clocks", "Clocks.check"),
    ("kernel_eval.worker.timing_rounds", "measure"),
    ("kernel_eval.worker.timing_rounds", "_round"),
    ("kernel_eval.worker.timing_rounds", "_fresh_times"),
    ("kernel_eval.stages.timing.fresh", "schedule"),
    ("kernel_eval.stages.timing.fresh", "split"),
    ("kernel_eval.worker.payload", "save_output"),
    ("torch", "Tensor.copy_"),
    ("torch", "Tensor.zero_"),
    ("torch", "Tensor.fill_"),
    ("torch", "Tensor.clone"),
    ("torch", "empty"),
)
# the ATen ops the harness runs between timed calls (loading values, the flush, keeping a copy)
HARNESS_OPS = ("aten::copy_", "aten::zero_", "aten::fill_", "aten::clone", "aten::empty.memory_format")
HARNESS_PREFIXES = ("kernel_eval.", "torch.Tensor.", "torch.empty", "dispatcher ", "mode stack")

_MISSING = object()


def _resolve(module_name: str, path: str) -> Any:
    try:
        value: Any = importlib.import_module(module_name)
    except ImportError:
        return _MISSING
    for part in path.split("."):
        value = getattr(value, part, _MISSING)
        if value is _MISSING:
            return _MISSING
    return value


@attrs.define
class Clocks:
    """The bound originals, and the snapshot `check()` compares against."""

    snapshot: dict[str, Any]
    perf_counter: Callable[[], float]
    perf_counter_ns: Callable[[], int]
    monotonic: Callable[[], float]
    codes: dict[str, Any] = attrs.Factory(dict)
    """The code of each bound Python function."""
    dispatch: dict[str, str] = attrs.Factory(dict)
    """The dispatcher's table of each harness op."""
    threads: frozenset[int] = frozenset()
    """Python threads alive when bound (see threads.py)."""

    @classmethod
    def bind(cls) -> Clocks:
        """Call before importing any user module (worker startup)."""
        snapshot = {f"{module}.{path}": _resolve(module, path) for module, path in WATCHED + HARNESS}
        codes = {name: getattr(value, "__code__", None) for name, value in snapshot.items()}
        return cls(
            snapshot,
            time.perf_counter,
            time.perf_counter_ns,
            time.monotonic,
            codes,
            _dispatch_tables(),
            threads.alive(),
        )

    def original(self, name: str) -> Any:
        """The object bound at startup under its dotted name, e.g. "torch.cuda.Event.record"."""
        value = self.snapshot[name]
        if value is _MISSING:
            raise AttributeError(f"{name} did not exist when the clocks were bound")
        return value

    def check(self) -> list[str]:
        """Names whose current object is not the one bound at startup (replaced, wrapped, deleted, or its code
        swapped), dispatcher kernels registered since for the harness's ops, and modes left pushed."""
        replaced = []
        for module, path in WATCHED + HARNESS:
            name = f"{module}.{path}"
            bound = self.snapshot[name]
            if bound is _MISSING:
                continue  # absent at startup (a CPU-only build, an older torch): nothing to compare
            if (
                _resolve(module, path) is not bound
                or getattr(bound, "__code__", None) is not self.codes[name]
            ):
                replaced.append(name)
        # This object's own, reached through gc.
        for field in ("perf_counter", "perf_counter_ns", "monotonic"):
            held = getattr(self, field)
            if held is not self.snapshot.get(f"time.{field}") or getattr(held, "__module__", None) != "time":
                replaced.append(f"kernel_eval's bound clock {field}")
        now = _dispatch_tables()
        replaced += [
            f"dispatcher kernels of {op}" for op, table in self.dispatch.items() if now.get(op) != table
        ]
        replaced += _modes_left()
        return replaced


def _dispatch_tables() -> dict[str, str]:
    import torch

    dump = getattr(torch._C, "_dispatch_dump", None)
    if dump is None:
        return {}
    tables = {}
    for op in HARNESS_OPS:
        try:
            tables[op] = str(dump(op))
        except RuntimeError:  # an op this torch does not have
            continue
    return tables


def _modes_left() -> list[str]:
    import torch

    left = []
    for what, length in (
        ("torch function", getattr(torch._C, "_len_torch_function_stack", None)),
        ("torch dispatch", getattr(torch._C, "_len_torch_dispatch_stack", None)),
    ):
        if length is not None and length() > 0:
            left.append(f"mode stack: a {what} mode left pushed")
    return left


def harness_names(replaced: list[str]) -> list[str]:
    """Of what check() named, what belongs to the harness rather than to the clocks."""
    return [name for name in replaced if name.startswith(HARNESS_PREFIXES)]


def tamper_message(replaced: list[str]) -> str:
    shown = ", ".join(replaced[:6]) + (f" and {len(replaced) - 6} more" if len(replaced) > 6 else "")
    return (
        f"timing functions were replaced while the custom module ran ({shown}); "
        "its times and speedup cannot be trusted"
    )


def harness_message(replaced: list[str]) -> str:
    shown = "; ".join(replaced[:6]) + (f" and {len(replaced) - 6} more" if len(replaced) > 6 else "")
    return (
        f"the custom module changed the harness that times it ({shown}): what it reports about its own timing "
        "cannot be trusted; no speedup is given"
    )
