"""The judge worker: the trusted side. It loads the reference, makes every input, computes and keeps the reference
outputs, compares what the candidate returns, and times the reference. Custom code never runs here.

While the reference file is unchanged, its model, inputs and outputs are kept: inputs come from per-trial seeds,
so the same trial always gets the same fresh inputs, and re-evaluating a custom kernel costs no reference work.
Each trial also keeps the reference's float64 answer (stages/exactness.py), computed once with the trial. Trials
on secret seeds are used once and forgotten after their comparison.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import attrs
import torch

from kernel_eval.errors import UserCode
from kernel_eval.kinds import FlagKind, MessageKind
from kernel_eval.protocol.judge import (
    CompareParams,
    CompareResult,
    JudgeApi,
    JudgeTimeParams,
    JudgeTimeResult,
    MakeInputsParams,
    MakeInputsResult,
    PrepareParams,
    PrepareResult,
)
from kernel_eval.result import Flag, Message, OutputComparison, Phase, Severity
from kernel_eval.stages import check, kernels, load
from kernel_eval.stages.exactness import Float64Answer, Float64Reference, full_precision
from kernel_eval.stages.inputs import (
    clone_tree,
    generate,
    seeded,
    split_args,
    to_device,
    unchanged_inputs_note,
)
from kernel_eval.stages.plain_output import FIX as PLAIN_FIX
from kernel_eval.stages.plain_output import non_plain_output
from kernel_eval.stages.vacuity import vacuity_flags
from kernel_eval.worker import payload, timing_rounds
from kernel_eval.worker.runtime import Runtime

# weights_only names the type it refused
_REFUSED_GLOBAL = re.compile(r"GLOBAL ([\w.]+) was not an allowed global")


@attrs.define
class _Trial:
    args: list[Any]
    kwargs: dict[str, Any]
    output: Any
    inputs_path: str
    exact: Float64Answer


@attrs.define
class _Reference:
    key: tuple[str, str, int]
    file: str
    model: Any
    get_inputs: Any
    init_path: str
    float64: Float64Reference
    # by seed
    trials: dict[int, _Trial] = attrs.Factory(dict)
    # by (atol, rtol)
    vacuity: dict[tuple[float | None, float | None], list[Flag]] = attrs.Factory(dict)
    kernels: list[str] | None = None
    profiled: bool = False
    # by seed pair: unchanged_inputs_note
    same_inputs: dict[tuple[int, int], str] = attrs.Factory(dict)
    # seeds of one evaluation: dropped after comparing, or by the next one
    once: set[int] = attrs.Factory(set)


class Judge(JudgeApi):
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.ref: _Reference | None = None
        self._timing: timing_rounds.Session | None = None

    def prepare(self, params: PrepareParams) -> PrepareResult:
        file = params.ref_src
        key = (hashlib.sha256(Path(file).read_bytes()).hexdigest(), params.entry_point, params.seed)
        if self.ref is None or self.ref.key != key:
            self._forget()
            self.ref = self._load(file, key, params.entry_point, params.seed)
        return PrepareResult(init=self.ref.init_path, ref_sha256=key[0])

    def _load(self, file: str, key: tuple[str, str, int], entry: str, seed: int) -> _Reference:
        module = load.import_file(file, "reference")
        cls = load.model_class(module, entry, file, "reference")
        get_inputs = load.required_function(module, "get_inputs", file)
        get_init = getattr(module, "get_init_inputs", list)
        with UserCode(Phase.LOAD, MessageKind.REFERENCE_ERROR, (file,)):
            init_args, init_kwargs = split_args(get_init(), "get_init_inputs()")
            with seeded(seed):
                model = load.construct(
                    cls, clone_tree(init_args), clone_tree(init_kwargs), entry, file, "reference"
                )
            state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
            model = model.to(self.runtime.device)
        init_path = payload.save({"args": init_args, "kwargs": init_kwargs, "state_dict": state}, "init")
        return _Reference(key, file, model, get_inputs, init_path, Float64Reference(model))

    def make_inputs(self, params: MakeInputsParams) -> MakeInputsResult:
        """Fresh inputs from each trial's seed. The reference runs on its own clone of them."""
        ref = self._ref()
        for stale in ref.once - set(params.seeds):  # an evaluation that stopped before comparing left these
            self._drop_trial(stale)
        ref.once.update(params.once)
        trials = [self._trial(seed) for seed in params.seeds]
        notes = []
        if len(trials) >= 2:
            note = self._same_inputs_note(params.seeds[0], params.seeds[1])
            if note:
                notes.append(Message(Severity.WARNING, Phase.CHECK, MessageKind.SAME_INPUTS, note))
        return MakeInputsResult(
            inputs=[trial.inputs_path for trial in trials],
            notes=notes,
            kernels=self._reference_kernels(trials[0]) if trials else None,
        )

    def _same_inputs_note(self, seed: int, other: int) -> str:
        """Whether two trials got identical inputs (get_inputs ignores the seed): once per reference and pair."""
        ref = self._ref()
        if (seed, other) not in ref.same_inputs:
            first, second = ref.trials[seed], ref.trials[other]
            ref.same_inputs[(seed, other)] = unchanged_inputs_note(
                [first.args, first.kwargs], [second.args, second.kwargs]
            )
        return ref.same_inputs[(seed, other)]

    def _reference_kernels(self, trial: _Trial) -> list[str] | None:
        ref = self._ref()
        if not ref.profiled:
            call_args, call_kwargs = clone_tree(trial.args), clone_tree(trial.kwargs)

            def forward() -> object:
                with torch.no_grad():
                    return ref.model(*call_args, **call_kwargs)

            with UserCode(Phase.CHECK, MessageKind.REFERENCE_ERROR, (ref.file,)):
                ref.kernels = kernels.profile_kernels(forward, self.runtime.device)
            ref.profiled = True
        return ref.kernels

    def _trial(self, seed: int) -> _Trial:
        ref = self._ref()
        if seed not in ref.trials:
            with UserCode(Phase.CHECK, MessageKind.REFERENCE_ERROR, (ref.file,)):
                # a secret trial is new on every evaluation: drawn on the device, read once by this candidate
                secret = seed in ref.once
                on_device = self.runtime.device if secret and self.runtime.is_cuda else None
                call_args, call_kwargs = generate(ref.get_inputs, seed, on_device)
                inputs_path = payload.save({"args": call_args, "kwargs": call_kwargs}, "inputs", secret)
                call_args = to_device(call_args, self.runtime.device)
                call_kwargs = to_device(call_kwargs, self.runtime.device)
                with torch.no_grad(), full_precision():
                    output = ref.model(*clone_tree(call_args), **clone_tree(call_kwargs))
                    self.runtime.sync()
            exact = ref.float64.answer(call_args, call_kwargs)
            self.runtime.sync()
            ref.trials[seed] = _Trial(call_args, call_kwargs, output, inputs_path, exact)
        return ref.trials[seed]

    def compare(self, params: CompareParams) -> CompareResult:
        ref = self._ref()
        trials: list[list[OutputComparison]] = []
        flags: list[Flag] = []
        for seed, outputs in zip(params.seeds, params.outputs, strict=True):
            trial = ref.trials[seed]
            custom_output, problem = self._load_output(outputs)
            if problem:  # the candidate's own check was bypassed: not plain data after all
                trials.append([OutputComparison("output", False, reason="type", detail=problem)])
                flags.append(Flag(FlagKind.OUTPUT_SUBCLASS, problem, Severity.ERROR))
                continue
            trials.append(
                check.compare_outputs(trial.output, custom_output, params.atol, params.rtol, trial.exact)
            )
        if params.seeds:
            other = ref.trials[params.seeds[1]] if len(params.seeds) > 1 else None
            flags += self._vacuity(ref.trials[params.seeds[0]], other, params.atol, params.rtol)
        for seed in params.forget:
            self._drop_trial(seed)
        return CompareResult(trials=trials, flags=flags)

    def _load_output(self, path: str) -> tuple[Any, str]:
        """The candidate's output as plain data, or why it is not (weights_only refuses anything else)."""
        try:
            output = payload.load(path, self.runtime.device, remove=True)
        except Exception as exc:
            refused = _REFUSED_GLOBAL.search(str(exc))
            what = (
                f"a {refused[1].rsplit('.', 1)[-1]}"
                if refused
                else f"data torch.load refuses ({type(exc).__name__})"
            )
            return None, f"output is {what}, not plain tensors, numbers or containers; fix: {PLAIN_FIX}"
        return output, non_plain_output(output)

    def _vacuity(
        self, trial: _Trial, other: _Trial | None, atol: float | None, rtol: float | None
    ) -> list[Flag]:
        """Whether a constant (zero, or one taken from the other trial) would pass: once per reference and tolerance."""
        ref = self._ref()
        if other is None:  # a run cut short after one trial: judged now, not kept for the next evaluation
            return vacuity_flags(trial.output, atol, rtol, trial.exact)
        if (atol, rtol) not in ref.vacuity:
            ref.vacuity[(atol, rtol)] = vacuity_flags(trial.output, atol, rtol, trial.exact, other.output)
        return ref.vacuity[(atol, rtol)]

    def _drop_trial(self, seed: int) -> None:
        self._ref().once.discard(seed)
        trial = self._ref().trials.pop(seed, None)
        if trial is not None:
            Path(trial.inputs_path).unlink(missing_ok=True)

    def time(self, params: JudgeTimeParams) -> JudgeTimeResult:
        """One round of the reference's timing, on its own copies of trials `seeds`' inputs (and `fresh`'s)."""
        ref = self._ref()
        with UserCode(Phase.TIME, MessageKind.REFERENCE_ERROR, (ref.file,)):
            key = (ref.key, tuple(params.seeds))
            if self._timing is None or self._timing.key != key:
                trials = [self._trial(seed) for seed in params.seeds]
                sets = [(t.args, t.kwargs) for t in trials]
                self._timing = timing_rounds.session(key, ref.model, sets)
            fresh_sets = [(trial.args, trial.kwargs) for trial in map(self._trial, params.fresh)]
            return timing_rounds.measure_reference(self.runtime, self._timing, params, fresh_sets)

    def _ref(self) -> _Reference:
        assert self.ref is not None, "prepare first"
        return self.ref

    def _forget(self) -> None:
        if self.ref is not None:
            for path in [self.ref.init_path, *(t.inputs_path for t in self.ref.trials.values())]:
                Path(path).unlink(missing_ok=True)
        self.ref = None
