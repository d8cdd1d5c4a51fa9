import os
import sys

import torch.nn as nn

print("custom module: print at import")


class ModelNew(nn.Module):
    def forward(self, a, b):
        print("custom forward: print in forward")
        print("custom forward: print to stderr", file=sys.stderr)
        os.write(1, b"custom forward: raw write to fd 1\n")
        return a + b
