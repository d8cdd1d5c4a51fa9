import torch.nn as nn


class ModelNew(nn.Module):
    """Rounds the fp32 operands to fp16 first: off by ~3e-4 of the result's size."""

    def forward(self, a, b):
        return a.half().float() @ b.half().float()
