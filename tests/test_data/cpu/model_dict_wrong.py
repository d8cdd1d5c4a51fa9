# Reference for model_new_dict_wrong.py: the same as model_dict.py.
import torch
import torch.nn as nn


class Model(nn.Module):
    """A dict output: tensors and a Python scalar under string keys."""

    def forward(self, a, b):
        return {"sum": a + b, "max": torch.maximum(a, b), "scale": 0.5}


def get_inputs():
    return [torch.randn(64, 64), torch.randn(64, 64)]


def get_init_inputs():
    return []
