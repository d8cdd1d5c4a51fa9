"""Triton kernels that do not compile (test data for tests/test_build_diagnostics.py)."""

import torch
import triton
import triton.language as tl


@triton.jit
def bad_arange_kernel(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
    offsets = tl.arange(0, 3)
    x = tl.load(x_ptr + offsets)
    tl.store(out_ptr + offsets, x)


@triton.jit
def scale_helper(x):
    return x * undefined_factor  # noqa: F821


@triton.autotune(configs=[triton.Config({}, num_warps=4)], key=["n"])
@triton.jit
def calls_helper_kernel(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
    offsets = tl.arange(0, BLOCK)
    x = tl.load(x_ptr + offsets)
    tl.store(out_ptr + offsets, scale_helper(x))


class ModelNew(torch.nn.Module):
    def forward(self, x):
        out = torch.empty_like(x)
        bad_arange_kernel[(1,)](x, out, x.numel(), BLOCK=8)
        return out
