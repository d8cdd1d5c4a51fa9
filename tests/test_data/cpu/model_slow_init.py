import time

import torch
import torch.nn as nn


class Model(nn.Module):
    """A reference whose construction takes a minute (a heavy init, a download, a warm-up)."""

    def __init__(self):
        super().__init__()
        time.sleep(60)  # slow on purpose

    def forward(self, a, b):
        return a + b


def get_inputs():
    return [torch.randn(256, 256), torch.randn(256, 256)]


def get_init_inputs():
    return []
