import torch
import torch.nn as nn

# Correct itself, but leaves state behind in its process: from this import on, torch.erf rounds through fp16
# (as a cheat that monkeypatches torch, or any global flag a file sets and never restores).
_erf = torch.erf
torch.erf = lambda t: _erf(t.half()).to(t.dtype)  # patches torch for whoever runs next


class ModelNew(nn.Module):
    def forward(self, a, b):
        return a + b
