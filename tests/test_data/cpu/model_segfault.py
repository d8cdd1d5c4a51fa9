# Reference for model_new_segfault.py: the same element-wise add as model_add.py.
import torch
import torch.nn as nn


class Model(nn.Module):
    """Element-wise addition of two tensors."""

    def forward(self, a, b):
        return a + b


def get_inputs():
    return [torch.randn(256, 256), torch.randn(256, 256)]


def get_init_inputs():
    return []
