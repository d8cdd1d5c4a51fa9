"""kernel-eval: is my ModelNew still correct against Model, and how much faster is it?"""

from kernel_eval.request import EvalRequest
from kernel_eval.result import EvalResult, Phase, Verdict

__all__ = ["EvalRequest", "EvalResult", "Phase", "Verdict"]
__version__ = "0.1.0"
