import torch.nn as nn


class ModelNew(nn.Module):
    def forward(self, a, b):
        out = a + b
        out[3, 5] = float("nan")  # NaN where the reference is finite
        return out
