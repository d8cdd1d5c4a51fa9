"""kernel-eval: is my ModelNew still correct against Model, and how much faster is it?

From a program: `kernel_eval.evaluate(ref, custom, **options)`, or a `kernel_eval.Session` of warm lanes
(kernel_eval/session.py). Every name here is imported on first use: a worker that imports this package loads no
session, and a CLI call that a warm server answers loads nothing but the standard library.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kernel_eval.request import EvalRequest
    from kernel_eval.result import EvalResult, Phase, Verdict
    from kernel_eval.session import Session, evaluate

__all__ = ["EvalRequest", "EvalResult", "Phase", "Session", "Verdict", "evaluate"]
__version__ = "0.1.0"

_HOMES = {
    "EvalRequest": "kernel_eval.request",
    "EvalResult": "kernel_eval.result",
    "Phase": "kernel_eval.result",
    "Verdict": "kernel_eval.result",
    "Session": "kernel_eval.session",
    "evaluate": "kernel_eval.session",
}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'kernel_eval' has no attribute {name!r}")
