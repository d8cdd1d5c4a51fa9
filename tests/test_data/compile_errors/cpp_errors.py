"""A custom kernel file whose C++ sources do not compile: one error per way a source can be written."""

import torch
from torch.utils.cpp_extension import load_inline

SCALE = 2

# A plain triple-quoted literal.
add_source = """
torch::Tensor add(torch::Tensor a, torch::Tensor b) {
    auto out = a + b;
    return out * undeclared_scale;
}
"""

# Two literals joined with +: each piece is copied verbatim into main.cpp.
twice_source = "// helpers\n" + """
torch::Tensor twice(torch::Tensor a) {
    return a * 2
}
"""

# An f-string: its text only exists at run time.
scaled_source = f"""
torch::Tensor scaled(torch::Tensor a) {{
    return a * {SCALE} + not_declared_either;
}}
"""

ext = load_inline(
    name="cpp_errors_ext",
    cpp_sources=[add_source, twice_source, scaled_source],
    functions=["add", "twice", "scaled"],
)


class ModelNew(torch.nn.Module):
    def forward(self, a, b):
        return ext.add(a, b)
