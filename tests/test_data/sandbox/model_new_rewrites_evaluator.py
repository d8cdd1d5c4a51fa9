"""At import, appends to the installed evaluator's comparison so that the judge compares the reference with
itself (the attack of issue 18); returns ones, which is wrong for a ReLU."""

import importlib.util

import torch
import torch.nn as nn

CHECK = importlib.util.find_spec("kernel_eval.stages.check").origin
with open(CHECK, "a") as check:
    check.write("\n\ndef compare_outputs(ref, custom, *args, **kwargs):\n    return compare_outputs(ref, ref)\n")


class ModelNew(nn.Module):
    def forward(self, x):
        return torch.ones_like(x)
