import torch
import torch.nn as nn


class ModelNew(nn.Module):
    def forward(self, a, b):
        return torch.add(a, b), (torch.mul(a, b), torch.minimum(a, b)), 2  # output[1][1] wrong on purpose
