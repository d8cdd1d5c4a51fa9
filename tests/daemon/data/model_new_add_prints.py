import sys

import torch
import torch.nn as nn

print("Content-Length: 999\r\n\r\n{garbage printed at import")
sys.stdout.flush()


class ModelNew(nn.Module):
    def forward(self, a, b):
        print("hello from forward")
        print("stderr from forward", file=sys.stderr)
        return torch.add(a, b)
