import torch
import torch.nn as nn


class ModelNew(nn.Module):
    def forward(self, a, b):
        return {"sum": torch.add(a, b), "max": torch.minimum(a, b), "scale": 0.5}  # "max" wrong on purpose
