"""Progress events the engine emits while it evaluates (rendered by the CLI and as LSP work-done progress)."""

from __future__ import annotations

from collections.abc import Callable

import attrs

from kernel_eval.result import Phase


@attrs.define
class ProgressEvent:
    phase: Phase
    message: str
    """For example "loading reference", "build: [2/3] c++ ...", "correctness trial 2/5", "timing custom"."""
    percentage: int | None = None
    """0..100 when known."""


ProgressCallback = Callable[[ProgressEvent], None]


def ignore_progress(event: ProgressEvent) -> None:
    """Default callback: drop events."""
