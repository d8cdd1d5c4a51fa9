"""A custom kernel file whose CUDA source does not compile."""

import torch
from torch.utils.cpp_extension import load_inline

cpp_source = "torch::Tensor add(torch::Tensor a, torch::Tensor b);"

cuda_source = """
__global__ void add_kernel(const float* a, const float* b, float* out, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) out[i] = a[i] + b[i] * undefined_scale;
}

torch::Tensor add(torch::Tensor a, torch::Tensor b) {
    auto out = torch::empty_like(a);
    int n = a.numel();
    add_kernel<<<(n + 255) / 256, 256>>>(a.data_ptr<float>(), b.data_ptr<float>(), out.data_ptr<float>(), n);
    return out;
}
"""

ext = load_inline(
    name="cuda_error_ext",
    cpp_sources=cpp_source,
    cuda_sources=cuda_source,
    functions=["add"],
)


class ModelNew(torch.nn.Module):
    def forward(self, a, b):
        return ext.add(a, b)
