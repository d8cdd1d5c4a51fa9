import torch
import torch.nn as nn


class Model(nn.Module):
    """Outputs around 1e-6: below an atol of 1e-3, so zeros match them."""

    def forward(self, x):
        return torch.tanh(x) * 1e-6


def get_inputs():
    return [torch.randn(64, 64)]


def get_init_inputs():
    return []
