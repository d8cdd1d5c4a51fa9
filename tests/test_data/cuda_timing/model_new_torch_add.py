import torch.nn as nn


class ModelNew(nn.Module):
    """The reference's own computation: the speedup's truth is 1.00x."""

    def forward(self, a, b):
        return a + b
