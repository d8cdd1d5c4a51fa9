import torch
import torch.nn as nn


class Model(nn.Module):
    def forward(self, a, b):
        return a + b


def get_inputs():
    generator = torch.Generator().manual_seed(0)  # ignores the trial's seed: every trial gets these inputs
    return [torch.randn(64, 64, generator=generator), torch.randn(64, 64, generator=generator)]


def get_init_inputs():
    return []
