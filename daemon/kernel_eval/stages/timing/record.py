"""What a side measured, round by round, as plain data (the parent reads these without torch)."""

from __future__ import annotations

import attrs


@attrs.define
class Pacing:
    """Host clock readings of a timed loop: per call, the gap is the time spent outside the timed call and the wait
    for its own device work (loading the next values, the flush, dropping the output), less keeping a copy of the
    output for the judge. Both sides do the same there, so a side with longer gaps did work of its own where it
    is not timed."""

    gap_ms: list[float] = attrs.Factory(list)

    def add(
        self, started: float, timed_from: float, timed_to: float, ended: float, keeping: float = 0.0
    ) -> None:
        """Seconds: iteration start, timed call start, end of the wait for the call's own work, iteration end,
        and the time spent keeping the output (its copy waited for)."""
        self.gap_ms.append(((timed_from - started) + (ended - timed_to) - keeping) * 1e3)


@attrs.define
class Round:
    """What one side measured in one round (sent from a worker to the parent as data)."""

    end_to_end_ms: list[float]
    gpu_ms: list[float] | None = None
    """None: not measured (CPU, or the profiler recorded nothing)."""
    wall_s: float = 0.0
    outlived: int = 0
    """Calls whose device work was still running after forward returned, on another stream."""
    warmup_calls: int = 0
    gap_ms: list[float] = attrs.Factory(list)
    """Per call of every loop, in order (see Pacing)."""

    @property
    def headline_ms(self) -> list[float]:
        return self.gpu_ms if self.gpu_ms is not None else self.end_to_end_ms


@attrs.define
class SideRecord:
    """Every round of one side, joined."""

    end_to_end_ms: list[float] = attrs.Factory(list)
    gpu_ms: list[float] | None = attrs.Factory(list)
    """None once any round lacked device times."""
    wall_s: float = 0.0
    outlived: int = 0
    warmup_calls: int = 0
    gap_ms: list[float] = attrs.Factory(list)

    def add(self, measured: Round) -> None:
        self.end_to_end_ms.extend(measured.end_to_end_ms)
        if self.gpu_ms is not None and measured.gpu_ms is not None:
            self.gpu_ms.extend(measured.gpu_ms)
        else:
            self.gpu_ms = None
        self.wall_s += measured.wall_s
        self.outlived += measured.outlived
        self.warmup_calls += measured.warmup_calls
        self.gap_ms.extend(measured.gap_ms)

    @property
    def headline_ms(self) -> list[float]:
        return self.gpu_ms if self.gpu_ms is not None else self.end_to_end_ms
