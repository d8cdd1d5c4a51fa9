"""The one typed, versioned, JSON-serialisable result of an evaluation.

Everything a renderer (CLI, LSP daemon, VS Code) shows comes from here. Nothing is re-derived elsewhere.
"""

from __future__ import annotations

import enum
import json
from typing import Any, TypeVar

import attrs
import cattrs

from kernel_eval.kinds import FlagKind, MessageKind

SCHEMA_VERSION = 2
EXIT_CANCELLED = 130  # Ctrl-C or SIGTERM, for the CLI and batches alike (128 + SIGINT, as shells report it)


class Phase(str, enum.Enum):
    """Pipeline stage an evaluation reached (on error: the stage that failed)."""

    LOAD = "load"
    BUILD = "build"
    CHECK = "check"
    TIME = "time"
    DONE = "done"


class Verdict(str, enum.Enum):
    CORRECT = "correct"
    INCORRECT = "incorrect"
    ERROR = "error"  # could not evaluate: load/build/runtime error, crash, timeout
    # Stopped before it finished (Ctrl-C, SIGTERM). The daemon publishes none of these.
    CANCELLED = "cancelled"

    @property
    def exit_code(self) -> int:
        return {
            Verdict.CORRECT: 0,
            Verdict.INCORRECT: 1,
            Verdict.ERROR: 2,
            Verdict.CANCELLED: EXIT_CANCELLED,
        }[self]


class Status(str, enum.Enum):
    """The verdict as clients show it: a correct result with an error flag is flagged (exit 1)."""

    CORRECT = "correct"
    FLAGGED = "flagged"
    INCORRECT = "incorrect"
    ERROR = "error"
    CANCELLED = "cancelled"


class Backend(str, enum.Enum):
    CUDA_EXTENSION = "cuda_extension"  # load_inline / load with CUDA sources
    CPP_EXTENSION = "cpp_extension"  # load_inline with C++ sources only
    TRITON = "triton"
    PYTORCH = "pytorch"  # neither: plain PyTorch
    UNKNOWN = "unknown"  # not loaded far enough to tell


class Severity(str, enum.Enum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@attrs.define
class Location:
    """A place in a user's file (1-based line/column; 0 means unknown)."""

    file: str
    line: int = 0
    column: int = 0
    end_line: int = 0
    end_column: int = 0


@attrs.define
class Message:
    """An error, warning or note, anchored to a file/line when one is known.

    kind is a stable machine-readable tag (kinds.py), e.g. syntax_error, compile_error, runtime_error, timeout.
    """

    severity: Severity
    phase: Phase
    kind: MessageKind
    message: str
    location: Location | None = None
    hint: str = ""
    """How to fix it."""
    detail: str = ""
    """Compiler output / traceback text for "show more"."""


@attrs.define
class OutputComparison:
    """One leaf of the output structure (path like "output", "output[0]", "output['logits']")."""

    path: str
    passed: bool
    reason: str = ""
    """Empty when passed, else one of structure|type|shape|dtype|values|nan|inf."""
    ref_shape: list[int] | None = None
    custom_shape: list[int] | None = None
    ref_dtype: str = ""
    custom_dtype: str = ""
    atol: float = 0.0
    rtol: float = 0.0
    numel: int = 0
    max_abs_error: float = 0.0
    max_rel_error: float = 0.0
    mismatch_count: int = 0
    mismatch_fraction: float = 0.0
    worst_index: list[int] | None = None
    ref_value_at_worst: float | None = None
    custom_value_at_worst: float | None = None
    detail: str = ""
    """One readable sentence."""
    # How values were judged: "float64" (errors against the reference run in float64, see stages/exactness.py)
    # or "tolerance" (atol/rtol against the reference). `note` says why float64 was not used.
    method: str = "tolerance"
    note: str = ""
    scale: float | None = None
    """RMS of the float64 answer: the errors below are relative to it."""
    ref_error: float | None = None
    """Max over elements of |ref - exact| / (|exact| + scale)."""
    custom_error: float | None = None
    allowed_error: float | None = None
    ref_norm_error: float | None = None
    """RMS(ref - exact) / scale."""
    custom_norm_error: float | None = None
    allowed_norm_error: float | None = None


@attrs.define
class TrialResult:
    trial: int
    seed: int
    passed: bool
    outputs: list[OutputComparison] = attrs.Factory(list)
    secret: bool = False
    """The seed came from the OS (never from the request or the environment)."""


@attrs.define
class Correctness:
    num_trials: int = 0
    """All trials, the secret-seed ones included."""
    num_passed: int = 0
    num_secret_trials: int = 0
    """Trials whose seed came from the OS, not from the request."""
    trials: list[TrialResult] = attrs.Factory(list)

    @property
    def first_failure(self) -> TrialResult | None:
        return next((t for t in self.trials if not t.passed), None)


@attrs.define
class TimingStats:
    median_ms: float
    iqr_ms: float
    mean_ms: float
    std_ms: float
    min_ms: float
    max_ms: float
    trials: int
    ci95_ms: list[float] = attrs.Factory(list)
    """[low, high]: distribution-free 95 % interval of the median."""


@attrs.define
class Floor:
    """The least time each side could take: bytes it must move (inputs, parameters, outputs) over the device's
    measured copy bandwidth. A time below it means work was skipped or done elsewhere."""

    copy_bandwidth_gbs: float
    """Device-to-device copy, GB/s (read + write bytes)."""
    reference_bytes: int
    custom_bytes: int
    reference_percent: float
    """Achieved bandwidth as % of the copy bandwidth."""
    custom_percent: float


@attrs.define
class Timing:
    reference: TimingStats
    """The headline figure (see method): device kernel time when measured, else end-to-end."""
    custom: TimingStats
    speedup: float
    """Reference median / custom median of the headline figure."""
    method: str
    """How it was measured and which figure is the headline, one line."""
    meaningful: bool
    """False on CPU / interpreter."""
    warmup: int = 0
    speedup_ci95: list[float] = attrs.Factory(list)
    """[low, high] of the headline speedup."""
    figure: str = "end_to_end"
    """The headline: "gpu_kernel_time" or "end_to_end"."""
    reference_end_to_end: TimingStats | None = None
    """CUDA events on the caller's stream (GPU only)."""
    custom_end_to_end: TimingStats | None = None
    end_to_end_speedup: float | None = None
    floor: Floor | None = None
    # wall time of the round(s) on fresh values: the judge's inputs, the calls, the check
    fresh_values_s: float = 0.0


@attrs.define
class Flag:
    """Something the judge caught that makes the verdict or the speedup untrustworthy (a cheat, a vacuous check,
    tampered clocks, work that outlives forward). A flag with severity error turns a correct verdict into exit 1.

    kind is a stable tag (kinds.py), e.g. vacuous_check, output_subclass, clock_tampered (docs/exploits.md).
    """

    kind: FlagKind
    message: str
    severity: Severity = Severity.ERROR
    location: Location | None = None


class SandboxMode(str, enum.Enum):
    """auto: every protection the host allows; strict: refuse to run user code when one is missing; off: none."""

    AUTO = "auto"
    STRICT = "strict"
    OFF = "off"


class ProtectionState(str, enum.Enum):
    ON = "on"
    OFF = "off"  # turned off (--sandbox off)
    UNAVAILABLE = "unavailable"  # the host cannot provide it: detail says why


@attrs.define
class Protection:
    """One protection of the sandbox that ran the custom code, e.g. filesystem, network, signals."""

    name: str
    state: ProtectionState
    detail: str = ""


@attrs.define
class SandboxRecord:
    """What confined the custom code in this evaluation (README: "The sandbox")."""

    mode: SandboxMode = SandboxMode.AUTO
    landlock_abi: int = 0
    protections: list[Protection] = attrs.Factory(list)

    @property
    def missing(self) -> list[Protection]:
        return [p for p in self.protections if p.state is not ProtectionState.ON]

    @property
    def summary(self) -> str:
        """One line: "sandbox off", "sandbox on", or "sandbox on, without signals (…)"."""
        if self.mode is SandboxMode.OFF:
            return "sandbox off"
        missing = self.missing
        if not missing:
            return "sandbox on"
        return "sandbox on, without " + ", ".join(p.name for p in missing)


@attrs.define
class SourceInfo:
    """What the custom file looks like, so clients can anchor lenses and diagnostics."""

    file: str
    entry_point: str
    class_line: int = 0
    forward_line: int = 0


@attrs.define
class EvalResult:
    verdict: Verdict
    phase: Phase
    ref: SourceInfo
    custom: SourceInfo
    device: str
    schema_version: int = SCHEMA_VERSION
    backend: Backend = Backend.UNKNOWN
    correctness: Correctness | None = None
    timing: Timing | None = None
    messages: list[Message] = attrs.Factory(list)
    flags: list[Flag] = attrs.Factory(list)
    kernels: dict[str, list[str]] = attrs.Factory(dict)
    """Per side ("reference" / "custom"): the GPU kernels one forward launched."""
    captured_output: dict[str, str] = attrs.Factory(dict)
    """Per side ("reference" / "custom"): its text."""
    duration_s: float = 0.0
    phase_s: dict[str, float] = attrs.Factory(dict)
    """Wall seconds spent in each phase, in the order they ran."""
    cache_dir: str = ""
    torch_version: str = ""
    gpu_name: str = ""
    sandbox: SandboxRecord | None = None

    @property
    def exit_code(self) -> int:
        if self.verdict is Verdict.CORRECT and self.blocking_flags:
            return Verdict.INCORRECT.exit_code  # a flagged cheat or a vacuous check never exits 0
        return self.verdict.exit_code

    @property
    def status(self) -> Status:
        """What the verdict amounts to once the flags are counted (clients show it, never re-derive it)."""
        if self.verdict is Verdict.CORRECT and self.blocking_flags:
            return Status.FLAGGED
        return Status(self.verdict.value)

    @property
    def blocking_flags(self) -> list[Flag]:
        return [f for f in self.flags if f.severity is Severity.ERROR]

    @property
    def errors(self) -> list[Message]:
        return [m for m in self.messages if m.severity is Severity.ERROR]

    @property
    def headline(self) -> str:
        """One line a human reads first (code lens, status bar tooltip, CLI verdict)."""
        weaker = self.sandbox is not None and self.sandbox.mode is SandboxMode.OFF
        return self._verdict_line() + (" · ⚠ sandbox off" if weaker else "")

    def _verdict_line(self) -> str:
        if self.verdict is Verdict.CORRECT and self.blocking_flags:
            return f"⚑ flagged — {self.blocking_flags[0].message.splitlines()[0]}"
        if self.verdict is Verdict.CORRECT:
            if self.timing is not None:
                t = self.timing
                return (
                    f"✓ correct · {speed_words(t.speedup)} "
                    f"({t.custom.median_ms:.3g} ms vs {t.reference.median_ms:.3g} ms)"
                )
            return "✓ correct"
        if self.verdict is Verdict.INCORRECT:
            failing = self.correctness.first_failure if self.correctness else None
            bad = next((o for o in failing.outputs if not o.passed), None) if failing else None
            return f"✗ incorrect — {bad.detail}" if bad else "✗ incorrect"
        if self.verdict is Verdict.CANCELLED:
            return f"⏹ cancelled — stopped in the {self.phase.value} phase"
        first = self.errors[0] if self.errors else None
        return f"⚠ {self.phase.value} error — {first.message.splitlines()[0]}" if first else "⚠ error"

    def to_dict(self) -> dict[str, Any]:
        """The result as JSON-ready data, with the headline clients show as it is (never re-derived)."""
        data: dict[str, Any] = to_data(self)
        data["headline"] = self.headline
        data["speedup_text"] = format_speedup(self.timing.speedup) if self.timing else ""
        data["status"] = self.status.value
        return data

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EvalResult:
        fields = {f.name for f in attrs.fields(cls)}
        return from_data({k: v for k, v in data.items() if k in fields}, cls)


def format_speedup(speedup: float) -> str:
    """2.31×, 0.35×, and two significant digits below 0.1 (0.0043×), so a tiny speedup never reads 0.00×."""
    return f"{speedup:.2f}×" if speedup >= 0.1 else f"{speedup:.2g}×"


def speed_words(speedup: float) -> str:
    """2.31× faster. Below 1 the other way round, as people say it: 0.00071 is 1,408× slower (not 0.00071×)."""
    if speedup >= 1 or speedup <= 0:
        return f"{format_speedup(speedup)} faster"
    slower = 1 / speedup
    figure = f"{slower:,.0f}" if slower >= 100 else f"{slower:.3g}"
    return f"{figure}× slower"


_converter = cattrs.Converter(omit_if_default=False)
T = TypeVar("T")


def to_data(value: Any) -> Any:
    """Any of the result's classes as JSON-ready data (what workers send and clients receive)."""
    return _converter.unstructure(value)


def from_data(data: Any, cls: type[T]) -> T:
    return _converter.structure(data, cls)
