"""What to evaluate: the engine's one input, shared by the CLI, the daemon and batches.

This is the one source of truth for the request's options. Each field's metadata says where a user can set it:
`cli` (run_and_check.py / kernel-eval flags), `settings` (the editor's kernelEval.* settings), `run` (kernelEval/run
params). The CLI options, the daemon's settings and the run params are held to these fields by tests/test_request.py.
"""

from __future__ import annotations

from typing import Any

import attrs

from kernel_eval.result import SandboxMode

DEFAULT_DEVICE = "cuda:0"
"""Where a request that names no device runs (on the CPU when there is no CUDA)."""
DEFAULT_TIMEOUT_S = 300.0
DEFAULT_BUILD_TIMEOUT_S = 1800.0
MIN_PERF_TRIALS = 10
SURFACES = ("cli", "settings", "run")


def _set_in(*surfaces: str, name: str = "") -> dict[str, Any]:
    """Field metadata: the surfaces that expose it, and the option's snake_case name there if not the field's."""
    return {"surfaces": frozenset(surfaces), "option": name}


@attrs.define
class EvalRequest:
    ref_src: str = attrs.field(metadata=_set_in("cli"))
    custom_src: str = attrs.field(metadata=_set_in("cli"))
    ref_entry_point: str = attrs.field(default="Model", metadata=_set_in("cli", "run"))
    custom_entry_point: str = attrs.field(default="ModelNew", metadata=_set_in("cli", "run"))
    # "" = cuda:0 when CUDA is present, else cpu
    device: str = attrs.field(default="", metadata=_set_in("cli", "settings", "run"))
    measure_performance: bool = attrs.field(default=False, metadata=_set_in("cli", "settings", "run"))
    num_correct_trials: int = attrs.field(default=1, metadata=_set_in("cli", "settings", "run"))
    num_perf_trials: int = attrs.field(default=10, metadata=_set_in("cli", "settings", "run"))
    num_warmup: int = 3
    # None = per-dtype default
    atol: float | None = attrs.field(default=None, metadata=_set_in("cli", "settings", "run"))
    rtol: float | None = attrs.field(default=None, metadata=_set_in("cli", "settings", "run"))
    seed: int = 42
    build_dir_prefix: str = attrs.field(default="", metadata=_set_in("cli"))
    """Empty means the per-user cache dir."""
    clear_cache: bool = attrs.field(default=False, metadata=_set_in("cli"))
    # wall clock for running kernels, build excluded
    timeout_s: float = attrs.field(
        default=DEFAULT_TIMEOUT_S, metadata=_set_in("cli", "settings", name="timeout")
    )
    build_timeout_s: float = attrs.field(
        default=DEFAULT_BUILD_TIMEOUT_S, metadata=_set_in("cli", "settings", name="build_timeout")
    )
    verbose: bool = attrs.field(default=False, metadata=_set_in("cli"))
    # auto: every protection the host allows. strict: refuse to run user code without all of them. off: none.
    sandbox: SandboxMode = attrs.field(
        default=SandboxMode.AUTO, converter=SandboxMode, metadata=_set_in("cli", "settings", "run")
    )


def options_for(surface: str) -> dict[str, attrs.Attribute[Any]]:
    """option name (snake_case) -> the EvalRequest field it sets, for one surface."""
    assert surface in SURFACES
    return {
        field.metadata.get("option") or field.name: field
        for field in attrs.fields(EvalRequest)
        if surface in field.metadata.get("surfaces", ())
    }
