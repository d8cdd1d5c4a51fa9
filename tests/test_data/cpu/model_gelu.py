import torch
import torch.nn as nn
import torch.nn.functional as F


class Model(nn.Module):
    """GELU (exact, erf-based)."""

    def forward(self, x):
        return F.gelu(x)


def get_inputs():
    return [torch.randn(128, 512)]


def get_init_inputs():
    return []
