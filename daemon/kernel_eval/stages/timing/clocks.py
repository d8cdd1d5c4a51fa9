"""Tamper-evident clocks: every function the timer relies on, bound before any user code is imported.

`Clocks.bind()` takes a snapshot of the timing entry points (time.perf_counter, torch.cuda.Event and its methods,
torch.cuda.synchronize, the profilers…). The timer calls only those bound originals, so a module that swaps
`time.perf_counter` at import cannot shorten its own times; `check()` names whatever was replaced since, so the
evaluation can flag it (`clock_tampered`) and refuse to present the speedup.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from typing import Any

import attrs

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

    @classmethod
    def bind(cls) -> Clocks:
        """Call before importing any user module (worker startup)."""
        snapshot = {f"{module}.{path}": _resolve(module, path) for module, path in WATCHED}
        return cls(snapshot, time.perf_counter, time.perf_counter_ns, time.monotonic)

    def original(self, name: str) -> Any:
        """The object bound at startup under its dotted name, e.g. "torch.cuda.Event.record"."""
        value = self.snapshot[name]
        if value is _MISSING:
            raise AttributeError(f"{name} did not exist when the clocks were bound")
        return value

    def check(self) -> list[str]:
        """Names whose current object is not the one bound at startup (replaced, wrapped or deleted)."""
        replaced = []
        for module, path in WATCHED:
            name = f"{module}.{path}"
            bound = self.snapshot[name]
            if bound is _MISSING:
                continue  # absent at startup (a CPU-only build, an older torch): nothing to compare
            if _resolve(module, path) is not bound:
                replaced.append(name)
        return replaced


def tamper_message(replaced: list[str]) -> str:
    shown = ", ".join(replaced[:6]) + (f" and {len(replaced) - 6} more" if len(replaced) > 6 else "")
    return (
        f"timing functions were replaced while the custom module ran ({shown}); "
        "its times and speedup cannot be trusted"
    )
