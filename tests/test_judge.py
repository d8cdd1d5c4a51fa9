"""The judge in-process: it reads the candidate's output only as plain data, and keeps no one-off trial."""

from __future__ import annotations

from pathlib import Path

import torch
from cases import CPU_DATA

from kernel_eval.protocol.judge import CompareParams, MakeInputsParams, PrepareParams
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
    assert problem.startswith("output is a Sneaky, not plain tensors, numbers or containers; fix: ")
    assert not path.exists()


def test_plain_outputs_load(tmp_path, monkeypatch):
    judge = judge_with_payloads(tmp_path, monkeypatch)
    path = tmp_path / "output.pt"
    torch.save({"y": torch.ones(2), "n": 3}, path)

    output, problem = judge._load_output(str(path))

    assert problem == "" and torch.equal(output["y"], torch.ones(2))


def test_secret_trials_are_not_kept(tmp_path, monkeypatch):
    judge = judge_with_payloads(tmp_path, monkeypatch)
    judge.prepare(PrepareParams(str(CPU_DATA / "model_add.py"), "Model", 42))

    first = judge.make_inputs(MakeInputsParams([43, 44, 9001], once=[9001]))
    assert set(judge._ref().trials) == {43, 44, 9001}
    judge.make_inputs(MakeInputsParams([43, 44, 9002], once=[9002]))  # the last evaluation never compared
    assert set(judge._ref().trials) == {43, 44, 9002} and not Path(first.inputs[2]).exists()

    judge.compare(CompareParams([], [], forget=[9002]))
    assert set(judge._ref().trials) == {43, 44} and judge._ref().once == set()


def test_a_refused_output_fails_its_trial_with_a_flag(tmp_path, monkeypatch):
    judge = judge_with_payloads(tmp_path, monkeypatch)
    judge.prepare(PrepareParams(str(CPU_DATA / "model_add.py"), "Model", 42))
    judge.make_inputs(MakeInputsParams([43]))
    path = tmp_path / "output.pt"
    torch.save(torch.Tensor._make_subclass(Sneaky, torch.ones(256, 256)), path)

    judged = judge.compare(CompareParams([43], [str(path)]))

    [[failure]] = judged.trials
    assert not failure.passed and failure.reason == "type"
    assert [(f.kind, f.severity.value) for f in judged.flags] == [("output_subclass", "error")]
