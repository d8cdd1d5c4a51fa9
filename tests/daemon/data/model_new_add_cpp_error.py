import torch.nn as nn
from torch.utils.cpp_extension import load_inline

add_source = """
#include <torch/extension.h>

torch::Tensor add_cpu(torch::Tensor a, torch::Tensor b) {
    auto out = torch::empty_like(a);
    undeclared_helper(out);  // compile error on purpose: line 9 of this .py file
    return out;
}
"""

add_module = load_inline(
    name="kernel_eval_daemon_test_cpp_error",
    cpp_sources=add_source,
    functions=["add_cpu"],
    verbose=False,
)


class ModelNew(nn.Module):
    def forward(self, a, b):
        return add_module.add_cpu(a, b)
