import torch
import torch.nn as nn


class ModelNew(nn.Module):
    """Custom: the same sum, written differently."""

    def forward(self, a, b):
        return torch.add(a, b)
