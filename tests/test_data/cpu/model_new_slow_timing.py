import time

import torch.nn as nn


class ModelNew(nn.Module):
    """Correct for the first calls (the correctness trials), then hangs (the timing loop)."""

    calls = 0

    def forward(self, a, b):
        ModelNew.calls += 1
        if ModelNew.calls > 6:
            time.sleep(60)  # hangs while timed, on purpose
        return a + b
