"""What a side measured, round by round, as plain data (the parent reads these without torch)."""

from __future__ import annotations

import attrs


@attrs.define
class Round:
    """What one side measured in one round (sent from a worker to the parent as data)."""

    end_to_end_ms: list[float]
    gpu_ms: list[float] | None = None  # None: not measured (CPU, or the profiler recorded nothing)
    wall_s: float = 0.0
    outlived: int = 0  # calls whose device work was still running after forward returned, on another stream
    warmup_calls: int = 0

    @property
    def headline_ms(self) -> list[float]:
        return self.gpu_ms if self.gpu_ms is not None else self.end_to_end_ms


@attrs.define
class SideRecord:
    """Every round of one side, joined."""

    end_to_end_ms: list[float] = attrs.Factory(list)
    gpu_ms: list[float] | None = attrs.Factory(list)  # None once any round lacked device times
    wall_s: float = 0.0
    outlived: int = 0
    warmup_calls: int = 0

    def add(self, measured: Round) -> None:
        self.end_to_end_ms.extend(measured.end_to_end_ms)
        if self.gpu_ms is not None and measured.gpu_ms is not None:
            self.gpu_ms.extend(measured.gpu_ms)
        else:
            self.gpu_ms = None
        self.wall_s += measured.wall_s
        self.outlived += measured.outlived
        self.warmup_calls += measured.warmup_calls

    @property
    def headline_ms(self) -> list[float]:
        return self.gpu_ms if self.gpu_ms is not None else self.end_to_end_ms
