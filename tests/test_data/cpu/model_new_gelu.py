import math

import torch
import torch.nn as nn


class ModelNew(nn.Module):
    """GELU written out by hand in plain PyTorch (no extension, no Triton)."""

    def forward(self, x):
        return 0.5 * x * (1.0 + torch.erf(x * (1.0 / math.sqrt(2.0))))
