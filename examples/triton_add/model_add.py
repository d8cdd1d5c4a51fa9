import torch
import torch.nn as nn


class Model(nn.Module):
    """Reference: element-wise addition of two tensors."""

    def forward(self, a, b):
        return a + b


def get_inputs():
    # 1M fp32 elements (4 MiB per tensor): quick through the Triton interpreter on CPU, a real memory-bound
    # kernel on a GPU. Created on the CPU; kernel-eval moves inputs to the evaluation device.
    return [torch.randn(1024, 1024), torch.randn(1024, 1024)]


def get_init_inputs():
    return []
