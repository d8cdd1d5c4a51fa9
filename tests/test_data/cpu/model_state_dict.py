import torch
import torch.nn as nn


class Model(nn.Module):
    """A linear projection; ModelNew uses the same parameter names (proj.weight, proj.bias)."""

    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(16, 8)

    def forward(self, x):
        return self.proj(x)


def get_inputs():
    return [torch.randn(32, 16)]


def get_init_inputs():
    return []
