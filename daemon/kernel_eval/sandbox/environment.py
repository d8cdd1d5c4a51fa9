"""The environment of a process that runs user code: an allow-list of what CUDA, torch, Triton, ninja and the
compilers read, so no credential of the caller's (tokens, keys, cloud logins) reaches the code under test."""

from __future__ import annotations

import re
from collections.abc import Mapping

PASS_ENV = "KERNEL_EVAL_PASS_ENV"
"""Names (comma-separated) a user wants passed through as well, e.g. a compiler wrapper's setting."""

NAMES = frozenset(
    {
        "PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "TZ", "TERM", "COLUMNS",
        "LD_LIBRARY_PATH", "LIBRARY_PATH", "CPATH", "C_INCLUDE_PATH", "CPLUS_INCLUDE_PATH",
        "CC", "CXX", "CUDAHOSTCXX", "CFLAGS", "CXXFLAGS", "LDFLAGS", "MAX_JOBS",
        "NVCC_PREPEND_FLAGS", "NVCC_APPEND_FLAGS", "NVCC_CCBIN",
        "VIRTUAL_ENV", "CONDA_PREFIX", "CONDA_DEFAULT_ENV", "PYTHONPATH", "PYTHONHASHSEED",
        "XDG_CACHE_HOME", "XDG_DATA_HOME",
        "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE",
    }
)  # fmt: skip
PREFIXES = ("LC_", "CUDA_", "NVIDIA_", "CUBLAS", "CUDNN_", "TORCH_", "PYTORCH_", "TORCHINDUCTOR_", "TRITON_",
            "CUPY_", "NUMBA_", "KMP_", "GOMP_", "KERNEL_EVAL_")  # fmt: skip
SECRET = re.compile(r"TOKEN|SECRET|PASSW|CREDENTIAL|API_?KEY|PRIVATE|(^|_)AUTH|_KEY$", re.IGNORECASE)


def allowed(name: str, extra: frozenset[str] = frozenset()) -> bool:
    if name in extra:
        return True
    return (name in NAMES or name.startswith(PREFIXES)) and not SECRET.search(name)


def confined(source: Mapping[str, str]) -> tuple[dict[str, str], list[str]]:
    """(the environment to pass, the names left out)."""
    extra = frozenset(n.strip() for n in source.get(PASS_ENV, "").split(",") if n.strip())
    kept = {name: value for name, value in source.items() if allowed(name, extra)}
    return kept, sorted(set(source) - set(kept))
