import os
import time
from pathlib import Path

import torch.nn as nn

# its build folder: the one place in the user's files a kernel may write under the sandbox
STARTED = Path(os.environ["TORCH_EXTENSIONS_DIR"]).parent / "started.pid"


class ModelNew(nn.Module):
    def forward(self, a, b):
        STARTED.write_text(str(os.getpid()))
        time.sleep(600)  # long enough that only cancellation ends it
        return a + b
