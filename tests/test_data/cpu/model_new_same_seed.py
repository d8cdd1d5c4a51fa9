import torch
import torch.nn as nn


class ModelNew(nn.Module):
    """Same construction order as Model: same-seed construction gives it the same weights."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(16, 8)

    def forward(self, x):
        return torch.addmm(self.fc.bias, x, self.fc.weight.t())
