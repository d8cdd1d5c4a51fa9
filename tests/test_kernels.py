"""Which kernels ran: a custom side that launches only the reference's library kernels is warned about."""

from __future__ import annotations

import attrs
import torch

from kernel_eval.result import Severity
from kernel_eval.stages.kernels import analyze, declared_kernels, kernel_names, no_custom_kernel_flag

CUDA, CPU = torch.autograd.DeviceType.CUDA, torch.autograd.DeviceType.CPU
SGEMM = "ampere_sgemm_128x64_nn"
GELU = "void at::native::vectorized_elementwise_kernel<4, at::native::GeluCUDAKernelImpl>(int, float*)"


@attrs.frozen
class Event:
    name: str
    device_type: torch.autograd.DeviceType = CUDA


def events(*names, cpu=("aten::mm", "cudaLaunchKernel")):
    return [Event(n, CPU) for n in cpu] + [Event(n) for n in names] + [Event(names[0])] * bool(names)


def test_kernel_names_keeps_device_kernels_once_in_order():
    found = kernel_names(events(SGEMM, "Memcpy HtoD (Pageable -> Device)", GELU, "Memset (Device)"))
    assert found == [SGEMM, GELU]


def test_declared_kernels_from_cuda_strings_and_triton_functions():
    source = '''
import triton
import triton.language as tl
cuda_src = """
__global__ void fused_gelu(const float* x, float* y, int n) {}
__global__ __launch_bounds__(256) void tiled_mm(float* a) {}
template <typename T> __global__ void scale_kernel<T>(T* x) {}
"""
@triton.autotune(configs=[], key=["n"])
@triton.jit
def add_kernel(x_ptr, n): pass
@jit
def other(x): pass
def helper(): pass
'''
    assert declared_kernels(source) == {"fused_gelu", "tiled_mm", "scale_kernel", "add_kernel", "other"}
    assert declared_kernels("__global__ void k(int n) {}\nthis is not python(") == {"k"}


def test_custom_side_calling_the_reference_ops_is_warned_about():
    report = analyze([SGEMM, GELU], [SGEMM, GELU], set())
    assert not report.ran_custom_kernel
    flag = no_custom_kernel_flag(report)
    assert flag is not None and flag.kind == "no_custom_kernel" and flag.severity is Severity.WARNING
    assert flag.message.startswith("no custom kernel ran: ModelNew's forward launched only library kernels")
    assert SGEMM in flag.message


def test_other_library_kernels_than_the_reference_are_not_custom():
    cublas_lt = "void cutlass::Kernel2<cutlass_80_tensorop_s1688gemm_64x64_32x6_nn_align4>(Params)"
    assert not analyze(
        [SGEMM], [cublas_lt, "sm90_xmma_gemm_f32f32_tf32f32_f32_nn_n"], set()
    ).ran_custom_kernel


def test_declared_or_unknown_kernels_count_as_custom():
    report = analyze([SGEMM, GELU], [SGEMM, "fused_gelu(float const*, float*, int)"], {"fused_gelu"})
    assert report.own == ["fused_gelu(float const*, float*, int)"] and no_custom_kernel_flag(report) is None
    assert analyze([SGEMM], ["add_kernel"], set()).ran_custom_kernel  # a Triton JIT kernel
    assert analyze([SGEMM], ["void my_gemm_kernel<float>(float*)"], {"my_gemm_kernel"}).ran_custom_kernel
    assert analyze([], ["triton_poi_fused_add_0"], set()).ran_custom_kernel


def test_no_kernel_at_all():
    flag = no_custom_kernel_flag(analyze([SGEMM], [], set()))
    assert (
        flag is not None
        and flag.message == "no custom kernel ran: ModelNew's forward launched no GPU kernel at all"
    )


def test_long_lists_are_cut():
    names = [f"void at::native::k{i}()" for i in range(9)]
    flag = no_custom_kernel_flag(analyze(names, names, set()))
    assert flag is not None and flag.message.endswith("and 3 more)")
