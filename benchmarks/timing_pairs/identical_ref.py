"""Identical pair (reference side): GELU over 32 Mi floats, memory-bound, ~0.1 ms on an H200."""

import torch
import torch.nn as nn


class Model(nn.Module):
    def forward(self, x):
        return torch.nn.functional.gelu(x)


def get_inputs():
    return [torch.randn(1 << 25)]


def get_init_inputs():
    return []
