import torch
import torch.nn as nn
from torch.utils.cpp_extension import load_inline

cpp_add_source = """
#include <torch/extension.h>

torch::Tensor add_cpu(torch::Tensor a, torch::Tensor b) {
    TORCH_CHECK(a.device().is_cpu() && b.device().is_cpu(), "inputs must be CPU tensors");
    TORCH_CHECK(a.sizes() == b.sizes(), "inputs must have the same shape");
    TORCH_CHECK(a.scalar_type() == torch::kFloat32, "inputs must be float32");
    auto a_c = a.contiguous();
    auto b_c = b.contiguous();
    auto out = torch::empty_like(a_c);
    const float* pa = a_c.data_ptr<float>();
    const float* pb = b_c.data_ptr<float>();
    float* po = out.data_ptr<float>();
    const int64_t n = a_c.numel();
    for (int64_t i = 0; i < n; ++i) {
        po[i] = pa[i] + pb[i];
    }
    return out;
}
"""

cpp_add = load_inline(
    name="cpu_elementwise_add",
    cpp_sources=cpp_add_source,
    functions=["add_cpu"],
    extra_cflags=["-O2"],
    verbose=False,
)


class ModelNew(nn.Module):
    def forward(self, a, b):
        return cpp_add.add_cpu(a, b)
