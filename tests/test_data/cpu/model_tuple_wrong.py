# Reference for model_new_tuple_wrong.py: the same as model_tuple.py.
import torch
import torch.nn as nn


class Model(nn.Module):
    """Several outputs at once: a nested tuple of tensors and a Python scalar."""

    def forward(self, a, b):
        return a + b, (a * b, torch.maximum(a, b)), 2


def get_inputs():
    return [torch.randn(64, 64), torch.randn(64, 64)]


def get_init_inputs():
    return []
