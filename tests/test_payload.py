"""Payload files between workers: written without the zip checksum yet read back intact, and the candidate's kept
trial inputs (read once per file, read again when the file changes, dropped when no longer asked for)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from kernel_eval.protocol.messages import PAYLOAD_DIR_ENV
from kernel_eval.worker import payload
from kernel_eval.worker.payload import TrialInputs


@pytest.fixture
def payload_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(PAYLOAD_DIR_ENV, str(tmp_path))
    return tmp_path


def test_a_payload_round_trips_and_leaves_torch_save_checksummed(payload_dir: Path) -> None:
    inputs = {"args": [torch.randn(64, 64), 3], "kwargs": {"scale": torch.tensor(2.0)}}

    path = payload.save(inputs, "inputs")
    back = payload.load(path, torch.device("cpu"))

    assert torch.equal(back["args"][0], inputs["args"][0]) and back["args"][1] == 3
    assert torch.equal(back["kwargs"]["scale"], inputs["kwargs"]["scale"])
    settings = getattr(torch.utils, "serialization", None)
    if settings is not None and hasattr(settings.config.save, "compute_crc32"):
        assert settings.config.save.compute_crc32 is True  # the user's own torch.save is untouched


def test_trial_inputs_are_read_once_per_file(payload_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = payload.save({"args": [torch.ones(4)], "kwargs": {}}, "inputs")
    second = payload.save({"args": [torch.zeros(4)], "kwargs": {}}, "inputs")
    reads: list[str] = []
    real_load = payload.load
    monkeypatch.setattr(payload, "load", lambda path, device: reads.append(path) or real_load(path, device))
    kept = TrialInputs(torch.device("cpu"))

    for _ in range(3):  # three warm re-evaluations on the same trials
        kept.keep_only([first, second])
        assert torch.equal(kept.get(first)["args"][0], torch.ones(4))
        assert torch.equal(kept.get(second)["args"][0], torch.zeros(4))

    assert reads == [first, second]


def test_trial_inputs_follow_a_rewritten_file_and_forget_what_is_not_asked(
    payload_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = payload.save({"args": [torch.ones(4)], "kwargs": {}}, "inputs")
    kept = TrialInputs(torch.device("cpu"))
    assert torch.equal(kept.get(path)["args"][0], torch.ones(4))

    torch.save({"args": [torch.full((4,), 7.0)], "kwargs": {}}, path)
    os.utime(path, ns=(1, 1))  # a different stamp even within the file system's time resolution
    assert torch.equal(kept.get(path)["args"][0], torch.full((4,), 7.0))

    kept.keep_only([])
    reads: list[str] = []
    real_load = payload.load
    monkeypatch.setattr(payload, "load", lambda p, device: reads.append(p) or real_load(p, device))
    kept.get(path)
    assert reads == [path]


def test_inputs_over_the_cap_are_read_each_time(payload_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = payload.save({"args": [torch.ones(1024)], "kwargs": {}}, "inputs")
    monkeypatch.setattr(TrialInputs, "CAP_BYTES", 1024)  # 4 KiB of inputs: over it
    reads: list[str] = []
    real_load = payload.load
    monkeypatch.setattr(payload, "load", lambda p, device: reads.append(p) or real_load(p, device))
    kept = TrialInputs(torch.device("cpu"))

    kept.get(path)
    kept.get(path)

    assert reads == [path, path]
