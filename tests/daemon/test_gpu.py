"""On a CUDA GPU, through the daemon: nvcc errors on the right .py line, recovery from an illegal memory access."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from daemon_client import KernelEvalClient
from lsprotocol import types

pytestmark = pytest.mark.gpu
CUDA_DATA = Path(__file__).resolve().parents[1] / "test_data" / "cuda"


def copy_cuda(client: KernelEvalClient, name: str) -> Path:
    target = client.workspace / name
    target.write_text((CUDA_DATA / name).read_text())
    return target


async def test_cuda_compile_error_on_the_py_line(gpu_client: KernelEvalClient):
    copy_cuda(gpu_client, "model_ex_add.py")
    custom = copy_cuda(gpu_client, "model_new_ex_add_compile_error.py")

    result = await gpu_client.run(custom)

    assert result["verdict"] == "error"
    errors = [d for d in gpu_client.diagnostics_for(custom) if d.severity == types.DiagnosticSeverity.Error]
    assert errors, gpu_client.diagnostics_for(custom)
    assert errors[0].range.start.line == 11  # `out[idx] = a[idx] + ;` inside the CUDA string (line 12)
    assert errors[0].code == "compile_error"


async def test_illegal_memory_access_then_the_next_evaluation_recovers(gpu_client: KernelEvalClient):
    copy_cuda(gpu_client, "model_ex_add.py")
    good = copy_cuda(gpu_client, "model_new_ex_add.py")
    illegal = copy_cuda(gpu_client, "model_new_ex_add_illegal.py")
    assert (await gpu_client.run(good))["verdict"] == "correct"  # builds and warms up
    started = time.monotonic()
    assert (await gpu_client.run(good))["verdict"] == "correct"
    warm = time.monotonic() - started

    faulted = await gpu_client.run(illegal)

    assert faulted["verdict"] == "error"
    errors = [d for d in gpu_client.diagnostics_for(illegal) if d.severity == types.DiagnosticSeverity.Error]
    assert errors and "illegal memory access" in " ".join(d.message for d in errors).lower()

    started = time.monotonic()
    recovered = await gpu_client.run(good)
    elapsed = time.monotonic() - started
    assert recovered["verdict"] == "correct"
    print(
        f"illegal access: {faulted['messages'][0]['message']!r}; warm evaluation {warm:.2f} s, "
        f"next after the fault {elapsed:.2f} s {recovered['phase_s']}"
    )
    # the spare worker, already warm, takes over: recovering costs about a warm evaluation, not a cold start
    assert elapsed < 1.5 * warm + 2, f"recovery took {elapsed:.1f} s against {warm:.1f} s warm"
