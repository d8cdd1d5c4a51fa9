import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(32, 16, 3, 3) * 0.1)

    def forward(self, x):
        return torch.nn.functional.conv2d(x, self.weight)


def get_inputs():
    return [torch.randn(8, 16, 64, 64)]


def get_init_inputs():
    return []
