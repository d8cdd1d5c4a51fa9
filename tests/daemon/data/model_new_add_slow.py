import os
import time
from pathlib import Path

import torch.nn as nn


class ModelNew(nn.Module):
    def forward(self, a, b):
        Path(__file__).with_suffix(".pid").write_text(str(os.getpid()))
        time.sleep(600)  # long enough that only cancellation ends it
        return a + b
