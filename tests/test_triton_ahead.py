"""Triton kernels compiled ahead for a GPU by a batch's build process, on a machine without one
(engine/builds.py, worker/build_only.py, stages/compile/triton_ahead.py): the cache then holds each kernel's
cubin for the lane."""

from __future__ import annotations

from pathlib import Path

import pytest

from kernel_eval.engine import builds
from kernel_eval.request import EvalRequest

ARCH = "sm_90:9.0+PTX"  # what builds.gpu_arch says on an H100/H200

REFERENCE = """
import torch
import torch.nn as nn


class Model(nn.Module):
    def forward(self, x):
        return torch.relu(x) * 2.0


def get_inputs():
    return [torch.randn(64, 256)]


def get_init_inputs():
    return []
"""

CUSTOM = """
import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def relu_kernel(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
    offsets = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offsets < n
    tl.store(out_ptr + offsets, tl.maximum(tl.load(x_ptr + offsets, mask=mask), 0.0), mask=mask)


@triton.autotune(configs=[triton.Config({"BLOCK": 256}), triton.Config({"BLOCK": 1024})], key=["n"])
@triton.jit
def double_kernel(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
    offsets = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offsets < n
    tl.store(out_ptr + offsets, tl.load(x_ptr + offsets, mask=mask) * 2.0, mask=mask)


class ModelNew(nn.Module):
    def forward(self, x):
        n = x.numel()
        {check}
        relu = torch.empty_like(x)
        relu_kernel[(triton.cdiv(n, 1024),)](x, relu, n, BLOCK=1024)
        out = torch.empty_like(x)
        double_kernel[lambda meta: (triton.cdiv(n, meta["BLOCK"]),)](relu, out, n)
        return out
"""


def write_pair(root: Path, check: str = "pass") -> EvalRequest:
    root.mkdir(parents=True)
    (root / "ref.py").write_text(REFERENCE)
    (root / "custom.py").write_text(CUSTOM.replace("{check}", check))
    return EvalRequest(str(root / "ref.py"), str(root / "custom.py"), build_dir_prefix=str(root / "builds"))


def cubins(request: EvalRequest) -> list[str]:
    return sorted(p.stem for p in Path(request.build_dir_prefix).rglob("triton/*/*.cubin"))


@pytest.fixture(autouse=True)
def compiled_triton(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("triton")
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)


def test_a_triton_file_is_compiled_for_the_gpu_on_a_machine_without_one(tmp_path: Path) -> None:
    request = write_pair(tmp_path / "pair")
    assert builds.needs_prebuild(request.custom_src, for_gpu=True)
    assert not builds.needs_prebuild(request.custom_src)  # the interpreter compiles nothing
    assert builds.prebuild(request, 300, ARCH) is not None
    # one relu kernel, and the autotuned kernel once per config it would try
    assert cubins(request) == ["double_kernel", "double_kernel", "relu_kernel"]


def test_a_forward_that_reads_values_is_compiled_on_cpu_tensors(tmp_path: Path) -> None:
    request = write_pair(tmp_path / "pair", check="assert bool(torch.isfinite(x).all())")  # no data on meta
    assert builds.prebuild(request, 300, ARCH) is not None
    assert cubins(request) == ["double_kernel", "double_kernel", "relu_kernel"]


def test_a_forward_that_cannot_run_ahead_fails_its_prebuild_only(tmp_path: Path) -> None:
    request = write_pair(tmp_path / "pair", check="x = x.cuda()")  # no GPU here: the lane will compile it
    assert builds.prebuild(request, 300, ARCH) is None
    assert cubins(request) == []


def test_triton_is_put_back_after_compiling_ahead(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from triton.runtime import driver
    from triton.runtime.autotuner import Autotuner
    from triton.runtime.jit import JITFunction

    from kernel_eval.stages.compile import triton_ahead

    request = write_pair(tmp_path / "pair")
    monkeypatch.setenv("TRITON_CACHE_DIR", str(tmp_path / "cache"))
    launch, tune, active = JITFunction.run, Autotuner.run, getattr(driver, "_active", None)
    kernels = triton_ahead.compile_ahead(request.custom_src, "ModelNew", request.ref_src, "sm_90")
    assert kernels == 3  # relu, and double for each of its two configs
    assert JITFunction.run is launch and Autotuner.run is tune and getattr(driver, "_active", None) is active
    assert triton_ahead.capability("sm_90") == 90 and triton_ahead.capability("sm_100a") == 100
