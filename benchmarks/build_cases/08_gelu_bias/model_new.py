import torch
import torch.nn as nn
from torch.utils.cpp_extension import load_inline

gelu_bias_ext_source = """
#include <torch/extension.h>
#include <cuda_runtime.h>
#include <cmath>

template <typename scalar_t>
__global__ void bias_gelu_kernel(const scalar_t* __restrict__ x, const scalar_t* __restrict__ bias,
                                 scalar_t* __restrict__ y, int64_t n, int64_t cols) {
    int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
    if (i < n) {
        float v = static_cast<float>(x[i]) + static_cast<float>(bias[i % cols]);
        y[i] = static_cast<scalar_t>(0.5f * v * (1.f + erff(v * 0.70710678f)));
    }
}

torch::Tensor bias_gelu_cuda(torch::Tensor x, torch::Tensor bias) {
    auto xc = x.contiguous();
    auto y = torch::empty_like(xc);
    int64_t n = xc.numel();
    int64_t cols = bias.numel();
    AT_DISPATCH_FLOATING_TYPES(xc.scalar_type(), "bias_gelu_cuda", [&] {
        bias_gelu_kernel<scalar_t><<<(n + 255) / 256, 256>>>(xc.data_ptr<scalar_t>(), bias.data_ptr<scalar_t>(),
                                                             y.data_ptr<scalar_t>(), n, cols);
    });
    return y;
}
"""

gelu_bias_ext_cpp_source = "torch::Tensor bias_gelu_cuda(torch::Tensor x, torch::Tensor bias);"

gelu_bias_ext = load_inline(
    name="gelu_bias_ext",
    cpp_sources=gelu_bias_ext_cpp_source,
    cuda_sources=gelu_bias_ext_source,
    functions=['bias_gelu_cuda'],
    verbose=False,
    extra_cflags=["-O3"],
    extra_cuda_cflags=["-O3"],
)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()
        self.bias = nn.Parameter(torch.randn(1024) * 0.1)
        self.ext = gelu_bias_ext

    def forward(self, x):
        return self.ext.bias_gelu_cuda(x, self.bias)
