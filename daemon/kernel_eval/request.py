"""What to evaluate: the engine's one input, shared by the CLI and the daemon."""

from __future__ import annotations

import attrs

DEFAULT_TIMEOUT_S = 300.0
DEFAULT_BUILD_TIMEOUT_S = 1800.0
MIN_PERF_TRIALS = 10


@attrs.define
class EvalRequest:
    ref_src: str
    custom_src: str
    ref_entry_point: str = "Model"
    custom_entry_point: str = "ModelNew"
    device: str = ""  # "" = cuda:0 when CUDA is present, else cpu
    measure_performance: bool = False
    num_correct_trials: int = 1
    num_perf_trials: int = 10
    num_warmup: int = 3
    atol: float | None = None  # None = per-dtype default
    rtol: float | None = None
    seed: int = 42
    build_dir_prefix: str = ""  # "" = per-user cache dir
    clear_cache: bool = False
    timeout_s: float = DEFAULT_TIMEOUT_S  # wall clock for running kernels, build excluded
    build_timeout_s: float = DEFAULT_BUILD_TIMEOUT_S
    verbose: bool = False
