"""Payload files between workers: written without the zip checksum yet read back intact, and the candidate's kept
trial inputs (read once per file, read again when the file changes, dropped when no longer asked for)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import torch

from kernel_eval.protocol.messages import PAYLOAD_DIR_ENV
from kernel_eval.worker import arena, payload
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


class Lazy(torch.Tensor):
    pass


def _output() -> dict[str, object]:
    big = torch.randn(256, 512)
    return {"out": (big.t(), torch.arange(10)), "flags": [big > 0], "n": 3}


def test_a_transient_payload_keeps_its_large_tensors_out_of_the_file_and_reads_back_intact(
    payload_dir: Path,
) -> None:
    output = _output()

    path = payload.save(output, "output", transient=True)
    back = payload.load(path, torch.device("cpu"))

    assert Path(path).stat().st_size < 16384  # 512 KiB of floats went to the arena, not the payload file
    assert torch.equal(back["out"][0], output["out"][0]) and back["out"][0].shape == (512, 256)  # type: ignore[index]
    assert torch.equal(back["out"][1], torch.arange(10)) and back["n"] == 3
    assert torch.equal(back["flags"][0], output["flags"][0])  # type: ignore[index]


def test_the_arena_is_reused_across_requests_and_the_reader_keeps_its_own_copy(payload_dir: Path) -> None:
    first = payload.load(
        payload.save({"x": torch.ones(1 << 16)}, "output", transient=True), torch.device("cpu")
    )
    (arena_file,) = payload_dir.glob("arena-*")
    size = arena_file.stat().st_size

    for _ in range(3):  # warm re-evaluations: each request lays its tensors out from the start again
        arena.new_request()
        payload.load(payload.save({"x": torch.zeros(1 << 16)}, "output", transient=True), torch.device("cpu"))

    assert arena_file.stat().st_size == size
    assert torch.equal(first["x"], torch.ones(1 << 16))  # overwritten in the arena, not in the reader's copy


@pytest.mark.parametrize(
    "forge",
    [
        lambda r: (*r[:2], r[2] + (1 << 30), *r[3:]),  # past the end of the file
        lambda r: (*r[:5], (7,)),  # a shape that does not make the byte count
        lambda r: (r[0], "../../etc/passwd", *r[2:]),  # outside the payload folder
        lambda r: (*r[:4], "os.system", r[5]),  # not a dtype
        lambda r: (*r[:2], -64, *r[3:]),  # a negative offset
    ],
)
def test_a_forged_arena_reference_is_refused(payload_dir: Path, forge: Any) -> None:
    path = payload.save([torch.ones(1 << 15)], "output", transient=True)
    (reference,) = torch.load(path, weights_only=True)
    torch.save([forge(reference)], path)

    with pytest.raises(ValueError, match="arena reference"):
        payload.load(path, torch.device("cpu"))


def test_a_tensor_subclass_stays_in_the_payload_file_where_weights_only_refuses_it(payload_dir: Path) -> None:
    path = payload.save([torch.ones(1 << 15).as_subclass(Lazy)], "output", transient=True)

    with pytest.raises(Exception, match="Lazy"):
        payload.load(path, torch.device("cpu"))
