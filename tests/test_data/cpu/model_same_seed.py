import torch
import torch.nn as nn


class Model(nn.Module):
    """A linear layer named `linear`; ModelNew names its own `fc`, so state_dict names do not match."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(16, 8)

    def forward(self, x):
        return self.linear(x)


def get_inputs():
    return [torch.randn(32, 16)]


def get_init_inputs():
    return []
