import torch
import torch.nn as nn
from torch.utils.cpp_extension import load_inline

mse_loss_ext_source = """
#include <torch/extension.h>
#include <cuda_runtime.h>

__global__ void mse_partial_kernel(const float* __restrict__ a, const float* __restrict__ b, float* __restrict__ acc, int64_t n) {
    __shared__ float cache[256];
    int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
    float d = 0.f;
    for (; i < n; i += (int64_t)blockDim.x * gridDim.x) {
        float diff = a[i] - b[i];
        d += diff * diff;
    }
    cache[threadIdx.x] = d;
    __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s) cache[threadIdx.x] += cache[threadIdx.x + s];
        __syncthreads();
    }
    if (threadIdx.x == 0) atomicAdd(acc, cache[0]);
}

torch::Tensor mse_loss_cuda(torch::Tensor predictions, torch::Tensor targets) {
    auto p = predictions.contiguous();
    auto t = targets.contiguous();
    int64_t n = p.numel();
    auto acc = torch::zeros({1}, p.options());
    mse_partial_kernel<<<256, 256>>>(p.data_ptr<float>(), t.data_ptr<float>(), acc.data_ptr<float>(), n);
    return (acc / static_cast<double>(n)).squeeze();
}
"""

mse_loss_ext_cpp_source = "torch::Tensor mse_loss_cuda(torch::Tensor predictions, torch::Tensor targets);"

mse_loss_ext = load_inline(
    name="mse_loss_ext",
    cpp_sources=mse_loss_ext_cpp_source,
    cuda_sources=mse_loss_ext_source,
    functions=['mse_loss_cuda'],
    verbose=False,
    extra_cflags=["-O3"],
    extra_cuda_cflags=["-O3"],
)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()
        self.ext = mse_loss_ext

    def forward(self, predictions, targets):
        return self.ext.mse_loss_cuda(predictions, targets)
