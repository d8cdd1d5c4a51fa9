"""The judge reads the candidate's output only as plain data, whatever the candidate did to its own checks."""

from __future__ import annotations

import torch

from kernel_eval.protocol.messages import PAYLOAD_DIR_ENV
from kernel_eval.worker.judge import Judge
from kernel_eval.worker.runtime import Runtime


class Sneaky(torch.Tensor):
    """A Tensor subclass that a patched candidate might save as its output."""


def judge_with_payloads(tmp_path, monkeypatch):
    monkeypatch.setenv(PAYLOAD_DIR_ENV, str(tmp_path))
    return Judge(Runtime("cpu", torch.device("cpu")))


def test_a_saved_tensor_subclass_is_refused_on_load(tmp_path, monkeypatch):
    judge = judge_with_payloads(tmp_path, monkeypatch)
    path = tmp_path / "output.pt"
    torch.save(torch.Tensor._make_subclass(Sneaky, torch.ones(3)), path)

    output, problem = judge._load_output(str(path))

    assert output is None
    assert problem.startswith("output could not be read back as plain tensors (UnpicklingError")
    assert not path.exists()


def test_plain_outputs_load(tmp_path, monkeypatch):
    judge = judge_with_payloads(tmp_path, monkeypatch)
    path = tmp_path / "output.pt"
    torch.save({"y": torch.ones(2), "n": 3}, path)

    output, problem = judge._load_output(str(path))

    assert problem == "" and torch.equal(output["y"], torch.ones(2))
