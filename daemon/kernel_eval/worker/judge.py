"""The judge worker: the trusted side. It loads the reference, makes every input, computes and keeps the reference
outputs, compares what the candidate returns, and times the reference. Custom code never runs here.

While the reference file is unchanged, its model, inputs and outputs are kept: inputs come from per-trial seeds,
so the same trial always gets the same fresh inputs, and re-evaluating a custom kernel costs no reference work.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import attrs
import torch

from kernel_eval.errors import UserCode
from kernel_eval.protocol.messages import (
    CompareParams,
    CompareResult,
    MakeInputsParams,
    MakeInputsResult,
    PrepareParams,
    PrepareResult,
    TimeParams,
    TimeResult,
)
from kernel_eval.result import Phase
from kernel_eval.stages import check, load
from kernel_eval.stages.inputs import clone_tree, seeded, split_args, to_device
from kernel_eval.worker import payload, timing_rounds
from kernel_eval.worker.runtime import Runtime


@attrs.define
class _Trial:
    args: list[Any]
    kwargs: dict[str, Any]
    output: Any
    inputs_path: str


@attrs.define
class _Reference:
    key: tuple[str, str, int]
    file: str
    model: Any
    get_inputs: Any
    init_path: str
    trials: dict[int, _Trial] = attrs.Factory(dict)  # by seed


class Judge:
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
        return PrepareResult(init=self.ref.init_path)

    def _load(self, file: str, key: tuple[str, str, int], entry: str, seed: int) -> _Reference:
        module = load.import_file(file, "reference")
        cls = load.entry_point(module, entry, file, "reference")
        get_inputs = load.required_function(module, "get_inputs", file)
        get_init = getattr(module, "get_init_inputs", list)
        with UserCode(Phase.LOAD, "reference_error", (file,)):
            init_args, init_kwargs = split_args(get_init(), "get_init_inputs()")
            with seeded(seed):
                model = cls(*clone_tree(init_args), **clone_tree(init_kwargs))
            state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
            model = model.to(self.runtime.device)
        init_path = payload.save({"args": init_args, "kwargs": init_kwargs, "state_dict": state}, "init")
        return _Reference(key, file, model, get_inputs, init_path)

    def make_inputs(self, params: MakeInputsParams) -> MakeInputsResult:
        """Fresh inputs from each trial's seed; the reference runs on its own clone of them."""
        return MakeInputsResult(inputs=[self._trial(seed).inputs_path for seed in params.seeds])

    def _trial(self, seed: int) -> _Trial:
        ref = self._ref()
        if seed not in ref.trials:
            with UserCode(Phase.CHECK, "reference_error", (ref.file,)):
                with seeded(seed):
                    call_args, call_kwargs = split_args(ref.get_inputs(), "get_inputs()")
                call_args = to_device(call_args, self.runtime.device)
                call_kwargs = to_device(call_kwargs, self.runtime.device)
                inputs_path = payload.save({"args": call_args, "kwargs": call_kwargs}, "inputs")
                with torch.no_grad():
                    output = ref.model(*clone_tree(call_args), **clone_tree(call_kwargs))
                self.runtime.sync()
            ref.trials[seed] = _Trial(call_args, call_kwargs, output, inputs_path)
        return ref.trials[seed]

    def compare(self, params: CompareParams) -> CompareResult:
        trials = []
        for seed, outputs in zip(params.seeds, params.outputs, strict=True):
            custom_output = payload.load(outputs, self.runtime.device, remove=True)
            expected = self._ref().trials[seed].output
            trials.append(check.compare_outputs(expected, custom_output, params.atol, params.rtol))
        return CompareResult(trials=trials)

    def time(self, params: TimeParams) -> TimeResult:
        """One round of the reference's timing, on its own copies of trials `seeds`' inputs."""
        ref = self._ref()
        with UserCode(Phase.TIME, "reference_error", (ref.file,)):
            key = (ref.key, tuple(params.seeds))
            if self._timing is None or self._timing.key != key:
                trials = [self._trial(seed) for seed in params.seeds]
                sets = [(t.args, t.kwargs) for t in trials]
                self._timing = timing_rounds.session(key, ref.model, sets)
            return timing_rounds.measure(self.runtime, self._timing, params)

    def _ref(self) -> _Reference:
        assert self.ref is not None, "prepare first"
        return self.ref

    def _forget(self) -> None:
        if self.ref is not None:
            for path in [self.ref.init_path, *(t.inputs_path for t in self.ref.trials.values())]:
                Path(path).unlink(missing_ok=True)
        self.ref = None
