import os

import torch
import torch.nn as nn


class ModelNew(nn.Module):
    def forward(self, a, b):
        print(f"worker pid {os.getpid()}")
        return torch.add(a, b)
