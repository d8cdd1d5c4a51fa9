import torch
import torch.nn as nn
from torch.utils.cpp_extension import load_inline

scale_add_cpp_source = """
#include <torch/extension.h>

torch::Tensor scale_add_cpu(torch::Tensor a, torch::Tensor b, double scale) {
    TORCH_CHECK(a.sizes() == b.sizes(), "inputs must have the same shape");
    auto a_c = a.contiguous();
    auto b_c = b.contiguous();
    auto out = torch::empty_like(a_c);
    const float* pa = a_c.data_ptr<float>();
    const float* pb = b_c.data_ptr<float>();
    float* po = out.data_ptr<float>();
    const int64_t n = a_c.numel();
    for (int64_t i = 0; i < n; ++i) {
        po[i] = pa[i] * static_cast<float>(scale) + pb[i];
    }
    return out;
}
"""

scale_add = load_inline(
    name="scale_add_cpu",
    cpp_sources=scale_add_cpp_source,
    functions=["scale_add_cpu"],
    verbose=False,
    extra_cflags=["-O3"],
)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()
        self.ext = scale_add

    def forward(self, a, b):
        return self.ext.scale_add_cpu(a, b, 2.0)
