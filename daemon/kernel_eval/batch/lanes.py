"""Lanes: where a batch's evaluations run. A lane owns one device and evaluates one pair at a time, so timing never
shares a GPU with another evaluation. A fault or a hang costs that pair, and the lane carries on."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import Protocol

import attrs

from kernel_eval import source_info
from kernel_eval.engine.pool import WorkerPool
from kernel_eval.kinds import MessageKind
from kernel_eval.request import EvalRequest
from kernel_eval.result import EvalResult, Message, Phase, Severity, Verdict


@attrs.define
class LaneResult:
    """One finished pair as a lane saw it: the result, seconds in the build phase, seconds in all."""

    result: EvalResult
    build_s: float
    wall_s: float


class Lane(Protocol):
    name: str
    node: str
    """The machine it runs on ("" = this one)."""

    def evaluate(self, request: EvalRequest, pair_timeout_s: float) -> LaneResult: ...

    def close(self) -> None: ...


def spares_for(device: str, lanes: int = 1) -> int:
    """Each pair of a batch is another file, so it gets a fresh candidate (the pool never runs a second file in
    one). On a GPU a pair takes about a second; a candidate, forked from the template, can load a file ~0.3 s after
    it is asked for, but its profiler and Triton then take ~4 s of a core to warm up, so several warm up at once:
    half this lane's share of the cores, 2 to 8. On the CPU one, not to take the cores the evaluations need."""
    if not device.startswith("cuda"):
        return 1
    return max(2, min(8, (os.cpu_count() or 1) // (2 * max(1, lanes))))


class LocalLane:
    """A warm WorkerPool bound to one device (cuda:N or cpu)."""

    def __init__(self, device: str, name: str = "", lanes: int = 1) -> None:
        self.device = device
        self.name = name or device
        self.node = ""
        self.spares = spares_for(device, lanes)
        self.pool = WorkerPool(spares=self.spares)

    def warm_up(self) -> None:
        self.pool.warm_up(self.device)

    def evaluate(self, request: EvalRequest, pair_timeout_s: float) -> LaneResult:
        done = evaluate_on(self.pool, attrs.evolve(request, device=self.device), pair_timeout_s)
        if any(m.kind == MessageKind.BATCH_ERROR for m in done.result.messages):
            self.pool.close()  # the pool itself failed: start afresh rather than trust it
            self.pool = WorkerPool(spares=self.spares)
        return done

    def close(self) -> None:
        self.pool.close()


def evaluate_on(pool: WorkerPool, request: EvalRequest, pair_timeout_s: float) -> LaneResult:
    """One evaluation on `pool`. Past `pair_timeout_s` of wall time it is stopped (its candidate killed)."""
    started = time.monotonic()
    try:
        result = pool.evaluate(request, time_limit_s=max(pair_timeout_s, 0.0))
    except Exception as exc:  # a pool failure costs this pair, never the batch
        result = failed(request, MessageKind.BATCH_ERROR, f"the evaluation failed: {exc!r}")
    build_s = result.phase_s.get(Phase.BUILD.value, 0.0)
    return LaneResult(result, round(build_s, 3), round(time.monotonic() - started, 3))


def failed(request: EvalRequest, kind: MessageKind, text: str) -> EvalResult:
    """An error result for a pair that never produced one of its own."""
    return EvalResult(
        verdict=Verdict.ERROR,
        phase=Phase.LOAD,
        ref=source_info.describe(request.ref_src, request.ref_entry_point),
        custom=source_info.describe(request.custom_src, request.custom_entry_point),
        device=request.device,
        messages=[Message(Severity.ERROR, Phase.LOAD, kind, text)],
    )


def build_cores(lanes: int) -> int:
    """Build-only processes to run beside `lanes` lanes: one per CPU core, less one per lane."""
    return max(1, (os.cpu_count() or 1) - lanes)


def local_gpus(requested: str) -> list[str]:
    """cuda:N devices for --gpus (default: every visible GPU, asked of a throwaway process: no torch here)."""
    if requested:
        return [f"cuda:{index.strip()}" for index in requested.split(",") if index.strip()]
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        ids = [part.strip() for part in visible.split(",") if part.strip()]
        if all(part.isdigit() for part in ids):  # the pool's cuda:N is physical GPU N: keep the user's choice
            return [f"cuda:{part}" for part in ids]
    count = _gpu_count()
    return [f"cuda:{index}" for index in range(count)]


def _gpu_count() -> int:
    done = subprocess.run(
        [sys.executable, "-c", "import torch; print(torch.cuda.device_count())"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return int(done.stdout.strip() or 0) if done.returncode == 0 else 0
