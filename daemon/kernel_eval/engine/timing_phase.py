"""The time stage as the parent drives it: interleaved rounds of both sides, a round on fresh values, the outputs
made while timing checked by the judge, and one Timing with its flags."""

from __future__ import annotations

import statistics
import time
from typing import Generic, Protocol, TypeVar

import attrs

from kernel_eval.errors import EvalError
from kernel_eval.kinds import FlagKind, MessageKind
from kernel_eval.protocol.candidate import CandidateTimeParams, CandidateTimeResult
from kernel_eval.protocol.judge import CompareParams, JudgeTimeParams, JudgeTimeResult, MakeInputsParams
from kernel_eval.protocol.messages import Params
from kernel_eval.request import EvalRequest
from kernel_eval.result import Flag, Message, Phase, Severity, Timing
from kernel_eval.stages import timing
from kernel_eval.stages.timing import fresh
from kernel_eval.stages.timing.record import Round, SideRecord
from kernel_eval.stages.trials import secret_seeds

ROTATED_SETS = 3
"""Input sets whose values rotate through the timed calls."""
TIMING_SEEDS_FROM = 1001
"""Past the correctness trials' seeds (seed + 1 …), so timing sets are fresh."""
R = TypeVar("R")


@attrs.frozen
class Alone(Generic[R]):
    """A timed side's reply, and the share of the time its threads waited for a CPU that other work held meanwhile
    (contention.py; 0 when not asked)."""

    reply: R
    waited: float = 0.0


class Asks(Protocol):
    """How the time stage reaches the workers: the evaluation answers for deadlines, blame and progress."""

    def ask_judge(self, params: Params[R]) -> R: ...

    def ask_judge_alone(self, params: Params[R], waits: bool = False) -> Alone[R]:
        """The judge's answer with the candidate's processes stopped meanwhile (the reference is timed); with
        `waits`, how long its threads waited for a CPU."""
        ...

    def ask_candidate_alone(self, params: Params[R], waits: bool = False) -> Alone[R]:
        """The candidate's answer with the judge stopped meanwhile (the custom side is timed); with `waits`, how
        long its threads waited for a CPU."""
        ...

    def ask_candidate(self, params: Params[R]) -> R: ...

    def progress(self, phase: Phase, message: str) -> None: ...


@attrs.frozen
class FreshRound:
    """A round on fresh values: the candidate's reply, and with the reference beside it, what its rounds of the same
    kind measured (fresh.Beside reads them; re-timing takes their samples)."""

    custom: CandidateTimeResult
    beside: fresh.Beside
    reference: list[Round] = attrs.Factory(list)


@attrs.frozen
class Confirmation:
    """What the second rounds on fresh values found: a finding and the round it came from (None: nothing, or the
    machine stayed too busy), and each busy try's reading."""

    found: fresh.Finding | None = None
    round: FreshRound | None = None
    busy: list[fresh.Earlier] = attrs.Factory(list)


@attrs.define
class Measured:
    """What the time stage found, in the order it found it."""

    timing: Timing | None = None
    flags: list[Flag] = attrs.Factory(list)
    messages: list[Message] = attrs.Factory(list)
    taints_candidate: bool = False
    """What the module changed (clocks, modes, threads) outlives it: the next evaluation gets a fresh worker."""


class TimingPhase:
    """Judge round, candidate round, … until the stop rule says stop (sampling.py), then one Timing. Both sides
    rotate the values of the same input sets through their timed calls. The outputs the candidate made while
    timing are checked by the judge afterwards."""

    def __init__(self, request: EvalRequest, on_gpu: bool, asks: Asks, flagged: set[FlagKind]) -> None:
        self.request, self.on_gpu, self.asks = request, on_gpu, asks
        self.measured = Measured()
        self._flagged = set(flagged)

    def run(self) -> Measured:
        request, measured = self.request, self.measured
        trials, raised = timing.effective_trials(request.num_perf_trials)
        if raised:
            measured.messages.append(Message(Severity.INFO, Phase.TIME, MessageKind.TIMING, raised))
        seeds = [request.seed + 1] + [request.seed + TIMING_SEEDS_FROM + i for i in range(ROTATED_SETS - 1)]
        self.asks.progress(Phase.TIME, "timing: making fresh inputs")
        inputs = self.asks.ask_judge(MakeInputsParams(seeds)).inputs
        reference_replies: list[JudgeTimeResult] = []

        def reference_round(count: int, first: bool) -> Round:
            self.asks.progress(Phase.TIME, f"timing reference ({count} samples)")
            params = JudgeTimeParams(count, request.num_warmup if first else 0, seeds=seeds)
            reference_replies.append(self.asks.ask_judge_alone(params).reply)
            return reference_replies[-1].measured

        def custom_round(count: int, first: bool) -> Round:
            self.asks.progress(Phase.TIME, f"timing custom ({count} samples)")
            params = CandidateTimeParams(count, request.num_warmup if first else 0, inputs=inputs)
            started = time.monotonic()
            samples = self.asks.ask_candidate_alone(params).reply.measured
            return _checked(samples, time.monotonic() - started)

        reference, custom, reason = timing.interleave(
            reference_round, custom_round, timing.StopRule(min_trials=trials)
        )
        ref_reply = reference_replies[-1]
        earlier = fresh.Earlier(
            {
                figure: statistics.median(ms)
                for figure, ms in _figures(custom, ref_reply.meaningful).items()
                if ms
            },
            statistics.median(reference.headline_ms) if reference.headline_ms else 0.0,
        )
        fresh_started = time.monotonic()
        kept = self._fresh_round(seeds, inputs, ref_reply.bytes_moved).custom
        found = fresh.finding(kept.fresh, earlier) if kept.fresh is not None else None
        confirmation = (
            self._confirm(seeds, inputs, ref_reply.bytes_moved, earlier)
            if found is not None
            else Confirmation()
        )
        moved = timing.Bytes(ref_reply.bytes_moved, kept.bytes_moved, ref_reply.copy_bandwidth)
        measured.timing, flags = timing.assemble(
            reference,
            custom,
            ref_reply.meaningful,
            reason,
            moved,
            tampered=kept.tampered,
            l2_persistence=kept.l2_persistence,
            threads=kept.threads,
        )
        measured.flags.extend(flags)
        measured.timing.fresh_values_s = round(time.monotonic() - fresh_started, 4)
        self._say_fresh(confirmation, kept, moved)
        measured.taints_candidate = bool(kept.tampered or kept.threads)
        if not measured.timing.meaningful:
            measured.messages.append(
                Message(Severity.INFO, Phase.TIME, MessageKind.TIMING, timing.CPU_TIMING_CAVEAT)
            )
        return measured

    def _say_fresh(self, confirmation: Confirmation, first: CandidateTimeResult, moved: timing.Bytes) -> None:
        """What the rounds with fresh values found, said: a flag within a round, a speedup re-timed on them with a
        warning for one across rounds, or a machine too busy to tell."""
        shown, found = self.measured.timing, confirmation.found
        assert shown is not None
        if found is not None and fresh.accuses(found):
            self.measured.flags.append(Flag(FlagKind.FASTER_ON_SEEN_VALUES, fresh.message(found, twice=True)))
            shown.method += "; faster on values it had seen: speedup not valid"
        elif found is not None and confirmation.round is not None:
            retimed = _retimed(shown, first, confirmation.round, moved)
            if retimed is None:
                return
            self.measured.timing = retimed
            self.measured.messages.append(
                Message(Severity.WARNING, Phase.TIME, MessageKind.TIMING, fresh.retimed_message(found))
            )
        elif confirmation.busy:
            self.measured.flags.append(
                Flag(FlagKind.MACHINE_TOO_BUSY, fresh.unsteady_message(confirmation.busy))
            )
            shown.method += "; machine too busy to check the fresh values: speedup not valid"

    def _fresh_round(
        self, seeds: list[int], inputs: list[str], set_bytes: int, beside: bool = False
    ) -> FreshRound:
        """The candidate's last round: its rotated sets with sets drawn for this round alone mixed in (fresh.py),
        every output kept and checked by the judge. With `beside`, the reference goes through the same kind of
        round on the same fresh sets just before and after it: what they measured comes back too."""
        loops = 2 if self.on_gpu else 1
        count = fresh.fresh_per_loop(set_bytes, loops) * loops
        fresh_seeds = secret_seeds(count)
        self.asks.progress(Phase.TIME, f"timing custom on {count} fresh input sets")
        made = self.asks.ask_judge(MakeInputsParams(fresh_seeds, once=fresh_seeds))
        rounds = [self._reference_beside(seeds, fresh_seeds)] if beside else []
        params = CandidateTimeParams(0, inputs=inputs, keep=True, fresh=made.inputs)
        started = time.monotonic()
        custom = self.asks.ask_candidate_alone(params, waits=beside)
        _checked(custom.reply.measured, time.monotonic() - started)
        if beside:
            rounds.append(self._reference_beside(seeds, fresh_seeds))
        for flag in self._recheck(seeds, fresh_seeds, custom.reply):  # the judge forgets the fresh sets here
            if flag.kind not in self._flagged:
                self._flagged.add(flag.kind)
                self.measured.flags.append(flag)
        reference = [r.reply.fresh for r in rounds if r.reply.fresh is not None]
        return FreshRound(
            custom.reply,
            fresh.Beside(reference, max([custom.waited, *(r.waited for r in rounds)])),
            [r.reply.measured for r in rounds],
        )

    def _confirm(
        self, seeds: list[int], inputs: list[str], set_bytes: int, earlier: fresh.Earlier
    ) -> Confirmation:
        """A suspicious fresh round again on new values, so that an honest kernel stalled once is not accused; with
        the reference timed beside it, so that a machine grown slower since the earlier rounds is not taken for a
        module that computes only in such a round. Returns the finding, or with none every try's reading when the
        machine stayed too busy to tell."""
        busy: list[fresh.Earlier] = []
        for attempt in range(fresh.CONFIRM_TRIES):
            time.sleep(fresh.RETRY_PAUSE_S * attempt)
            measured = self._fresh_round(seeds, inputs, set_bytes, beside=True)
            now = earlier.beside(measured.beside)
            if now.steady:
                times = measured.custom.fresh
                return Confirmation(fresh.finding(times, now) if times is not None else None, measured)
            busy.append(now)
        return Confirmation(busy=busy)

    def _reference_beside(self, seeds: list[int], fresh_seeds: list[int]) -> Alone[JudgeTimeResult]:
        self.asks.progress(Phase.TIME, "timing reference beside the fresh values")
        return self.asks.ask_judge_alone(JudgeTimeParams(0, 0, seeds=seeds, fresh=fresh_seeds), waits=True)

    def _recheck(self, seeds: list[int], fresh_seeds: list[int], reply: CandidateTimeResult) -> list[Flag]:
        """The outputs made while timing (several per rotated set: one per timed loop; one per fresh set), against
        the reference's on the same inputs."""
        request = self.request
        every = seeds + fresh_seeds
        made_on = [every[index] for index in reply.kept_sets]
        judged = self.asks.ask_judge(
            CompareParams(made_on, reply.kept, request.atol, request.rtol, forget=fresh_seeds)
        )
        wrong = [
            seed
            for seed, leaves in zip(made_on, judged.trials, strict=True)
            if not all(c.passed for c in leaves)
        ]
        refused = [flag for flag in judged.flags if flag.kind == FlagKind.OUTPUT_SUBCLASS][:1]
        if not wrong:
            return []
        on_fresh = sum(seed in fresh_seeds for seed in wrong)
        of_them = f", {on_fresh} of them on input sets drawn fresh for the timing" if on_fresh else ""
        return [
            *refused,
            Flag(
                FlagKind.REMEMBERED_RESULT,
                f"while being timed, the custom forward returned outputs that differ from the reference's on the "
                f"same inputs: {len(wrong)} of the {len(made_on)} outputs checked{of_them}; it returns a remembered "
                "result instead of computing on the values it is given",
            ),
        ]


def _retimed(
    shown: Timing, first: CandidateTimeResult, second: FreshRound, moved: timing.Bytes
) -> Timing | None:
    """The speedup from the custom side's rounds with fresh values against the reference's same kind of rounds timed
    beside the second (fresh.py): the figures a user reads change; the method, warm-up and the flags raised on the
    earlier rounds stay. None: nothing to re-time on."""
    reference, mixed = SideRecord(), SideRecord()
    for measured in second.reference:
        reference.add(measured)
    for measured in (first.measured, second.custom.measured):
        mixed.add(measured)
    if not reference.headline_ms or not mixed.headline_ms:
        return None
    now, _ = timing.assemble(reference, mixed, shown.meaningful, "", moved)
    return attrs.evolve(
        now,
        method=f"{shown.method}; re-timed on the {len(mixed.headline_ms)} calls of its rounds with fresh values "
        f"against the reference's {len(reference.headline_ms)} beside them (slower there than in the rounds before)",
        warmup=shown.warmup,
        fresh_values_s=shown.fresh_values_s,
    )


def _figures(side: SideRecord, on_gpu: bool) -> dict[str, list[float]]:
    """A side's samples by the figure names fresh.py reads."""
    return {"gpu_kernel_time": side.gpu_ms or []} if on_gpu else {"cpu": side.end_to_end_ms}


def _checked(measured: Round, wall_s: float) -> Round:
    """The candidate reports its own times. Its end-to-end times cannot add up to more than the wall time we saw
    (kernel times can: kernels on several streams overlap)."""
    reported = sum(measured.end_to_end_ms)
    if reported > wall_s * 1000.0 * 1.05 + 1.0:
        raise EvalError(
            Message(
                Severity.ERROR,
                Phase.TIME,
                MessageKind.TIMING_INCONSISTENT,
                f"the custom side reported {reported:.1f} ms of kernel time in {wall_s * 1000:.1f} ms of wall time",
            )
        )
    return measured
