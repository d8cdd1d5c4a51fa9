import torch
import torch.nn as nn


class Model(nn.Module):
    """LayerNorm then a scale; built from get_init_inputs() in the [args, kwargs] form."""

    def __init__(self, features, *, scale):
        super().__init__()
        self.norm = nn.LayerNorm(features)
        self.scale = scale

    def forward(self, x):
        return self.norm(x) * self.scale


def get_inputs():
    return [torch.randn(32, 64)]


def get_init_inputs():
    return [[64], {"scale": 0.5}]
