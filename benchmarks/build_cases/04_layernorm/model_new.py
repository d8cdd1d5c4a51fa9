import torch
import torch.nn as nn
from torch.utils.cpp_extension import load_inline

layernorm_ext_source = """
#include <torch/extension.h>
#include <ATen/cuda/CUDAContext.h>
#include <cuda_runtime.h>

__global__ void layernorm_kernel(const float* x, const float* gamma, const float* beta, float* y, int cols, float eps) {
    __shared__ float s_sum[256];
    __shared__ float s_sq[256];
    int row = blockIdx.x;
    const float* xr = x + (size_t)row * cols;
    float sum = 0.f, sq = 0.f;
    for (int c = threadIdx.x; c < cols; c += blockDim.x) {
        float v = xr[c];
        sum += v;
        sq += v * v;
    }
    s_sum[threadIdx.x] = sum;
    s_sq[threadIdx.x] = sq;
    __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s) {
            s_sum[threadIdx.x] += s_sum[threadIdx.x + s];
            s_sq[threadIdx.x] += s_sq[threadIdx.x + s];
        }
        __syncthreads();
    }
    float mean = s_sum[0] / cols;
    float var = s_sq[0] / cols - mean * mean;
    float inv = rsqrtf(var + eps);
    for (int c = threadIdx.x; c < cols; c += blockDim.x)
        y[(size_t)row * cols + c] = (xr[c] - mean) * inv * gamma[c] + beta[c];
}

torch::Tensor layernorm_cuda(torch::Tensor x, torch::Tensor gamma, torch::Tensor beta, double eps) {
    auto xc = x.contiguous();
    int cols = gamma.numel();
    int rows = xc.numel() / cols;
    auto y = torch::empty_like(xc);
    auto stream = at::cuda::getCurrentCUDAStream();
    layernorm_kernel<<<rows, 256, 0, stream>>>(xc.data_ptr<float>(), gamma.data_ptr<float>(), beta.data_ptr<float>(),
                                               y.data_ptr<float>(), cols, (float)eps);
    return y;
}
"""

layernorm_ext_cpp_source = "torch::Tensor layernorm_cuda(torch::Tensor x, torch::Tensor gamma, torch::Tensor beta, double eps);"

layernorm_ext = load_inline(
    name="layernorm_ext",
    cpp_sources=layernorm_ext_cpp_source,
    cuda_sources=layernorm_ext_source,
    functions=['layernorm_cuda'],
    verbose=False,
    extra_cflags=["-O3"],
    extra_cuda_cflags=["-O3"],
)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(1024))
        self.bias = nn.Parameter(torch.zeros(1024))
        self.ext = layernorm_ext

    def forward(self, x):
        return self.ext.layernorm_cuda(x, self.weight, self.bias, 1e-5)
