"""kernel-eval: is my ModelNew still correct against Model, and how much faster is it?

From a program: `kernel_eval.evaluate(ref, custom, **options)`, or a `kernel_eval.Session` of warm lanes
(kernel_eval/session.py). Both are imported on first use: a worker that imports this package loads neither.
"""

from typing import Any

from kernel_eval.request import EvalRequest
from kernel_eval.result import EvalResult, Phase, Verdict

__all__ = ["EvalRequest", "EvalResult", "Phase", "Session", "Verdict", "evaluate"]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name in ("Session", "evaluate"):
        from kernel_eval import session

        return getattr(session, name)
    raise AttributeError(f"module 'kernel_eval' has no attribute {name!r}")
