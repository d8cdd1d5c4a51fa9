import torch
import torch.nn as nn


class ModelNew(nn.Module):
    def __init__(self, features, *, scale):
        super().__init__()
        self.norm = nn.LayerNorm(features)
        self.scale = scale

    def forward(self, x):
        mean = x.mean(dim=-1, keepdim=True)
        var = x.var(dim=-1, keepdim=True, unbiased=False)
        normed = (x - mean) * torch.rsqrt(var + self.norm.eps)
        return (normed * self.norm.weight + self.norm.bias) * self.scale
