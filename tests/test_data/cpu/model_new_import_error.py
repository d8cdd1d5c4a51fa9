import torch.nn as nn

from fused_kernels_that_are_not_installed import fused_add  # import error on purpose


class ModelNew(nn.Module):
    def forward(self, a, b):
        return fused_add(a, b)
