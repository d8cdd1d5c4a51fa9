"""The candidate worker: the disposable side. It builds and imports the custom module, runs it on the inputs the
judge made, and times it. It holds no reference outputs and no comparison code, so there is nothing to fake.

What forward returns is checked to be plain data before anything reads it (a Tensor subclass could do its work
when read, after the timed call). The judge checks again what it loads, which weights_only keeps plain."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

import torch

# each load routes load_inline through it: imported while the worker is idle (it imports setuptools: ~0.1 s)
import torch.utils.cpp_extension

from kernel_eval.errors import EvalError, UserCode, fail
from kernel_eval.kinds import MessageKind
from kernel_eval.protocol.candidate import (
    CandidateApi,
    CandidateTimeParams,
    CandidateTimeResult,
    LoadParams,
    LoadResult,
    RunParams,
    RunResult,
)
from kernel_eval.result import Location, Message, Phase, Severity
from kernel_eval.sandbox import confine
from kernel_eval.stages import kernels, load
from kernel_eval.stages.compile.triton_errors import triton_error_location
from kernel_eval.stages.inputs import clone_tree, seeded
from kernel_eval.stages.plain_output import non_plain_output
from kernel_eval.stages.timing.rotation import InputSet
from kernel_eval.worker import payload, timing_rounds
from kernel_eval.worker.custom_import import CustomImport
from kernel_eval.worker.payload import TrialInputs
from kernel_eval.worker.runtime import Runtime

_NON_PLAIN = non_plain_output  # bound before any user code is imported


class Candidate(CandidateApi):
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.file = ""
        self.module: ModuleType | None = None
        self.model: Any = None
        self.entry_point = ""
        # by entry point: the kernels of one forward, profiled once per imported module
        self.launched: dict[str, list[str] | None] = {}
        self._import = CustomImport()
        self._timing: timing_rounds.Session | None = None
        self._inputs = TrialInputs(runtime.device)

    def load(self, params: LoadParams) -> LoadResult:
        self._timing = None  # a new model: its timing starts over
        imported = self._import.load(params, self.runtime.build_arch, self.runtime.is_cuda)
        self.file, self.module = imported.target.file, imported.module
        if imported.fresh:
            self.launched = {}
        notes = imported.notes
        cls = load.model_class(self.module, params.entry_point, self.file, "custom")
        self.entry_point = params.entry_point
        init = payload.load(params.init, torch.device("cpu"))
        with UserCode(Phase.LOAD, MessageKind.INIT_ERROR, (self.file,)):
            with seeded(params.seed):
                args, kwargs = clone_tree(init["args"]), clone_tree(init["kwargs"])
                self.model = load.construct(cls, args, kwargs, params.entry_point, self.file, "custom")
            notes.extend(self._sync_weights(init["state_dict"]))
            self.model = self.model.to(self.runtime.device)
        return LoadResult(notes=notes, cache_dir=str(imported.target.key_dir), sandbox=confine.record())

    def run(self, params: RunParams) -> RunResult:
        outputs: list[str] = []
        self._inputs.keep_only(params.inputs)
        for path in params.inputs:
            output = self._run_once(path)
            rejected = _NON_PLAIN(output)
            if rejected:
                return RunResult(outputs=outputs, rejected=rejected)
            outputs.append(payload.save_output(output, Phase.CHECK))
        return RunResult(outputs=outputs, kernels=self._kernels(params.inputs[0]) if params.inputs else None)

    def _run_once(self, inputs_path: str) -> Any:
        inputs = self._inputs.get(inputs_path)
        with UserCode(Phase.CHECK, MessageKind.RUNTIME_ERROR, (self.file,)), torch.no_grad():
            try:
                output = self.model(*clone_tree(inputs["args"]), **clone_tree(inputs["kwargs"]))
                self.runtime.sync()
            except Exception as exc:
                raise self._triton_error(exc) or exc from None
        return output

    def _kernels(self, inputs_path: str) -> list[str] | None:
        """The GPU kernels of one more forward on the first trial's inputs (None off CUDA). Profiled once per
        imported module, so a warm re-evaluation does not pay for the profiler again."""
        if not self.runtime.is_cuda:
            return None
        if self.entry_point not in self.launched:
            self.launched[self.entry_point] = self._profile(inputs_path)
        return self.launched[self.entry_point]

    def _profile(self, inputs_path: str) -> list[str] | None:
        inputs = self._inputs.get(inputs_path)
        call_args, call_kwargs = clone_tree(inputs["args"]), clone_tree(inputs["kwargs"])

        def forward() -> object:
            with torch.no_grad():
                return self.model(*call_args, **call_kwargs)

        with UserCode(Phase.CHECK, MessageKind.RUNTIME_ERROR, (self.file,)):
            return kernels.profile_kernels(forward, self.runtime.device)

    def time(self, params: CandidateTimeParams) -> CandidateTimeResult:
        """One round of the custom model's timing, on the payloads `inputs` (loaded once per model and payloads)."""
        key = tuple(params.inputs)
        with UserCode(Phase.TIME, MessageKind.RUNTIME_ERROR, (self.file,)):
            if self._timing is None or self._timing.key != key:
                sets = self._input_sets(params.inputs)
                self._timing = timing_rounds.session(key, self.model, sets, audit=True)
            fresh_sets = self._input_sets(params.fresh)
            folder = str(Path(self.file).parent)
            return timing_rounds.measure(self.runtime, self._timing, params, fresh_sets, folder)

    def _input_sets(self, paths: list[str]) -> list[InputSet]:
        loaded = [payload.load(path, self.runtime.device) for path in paths]
        return [(inputs["args"], inputs["kwargs"]) for inputs in loaded]

    def _sync_weights(self, ref_state: dict[str, torch.Tensor]) -> list[Message]:
        own = self.model.state_dict()
        if not own and not ref_state:
            return []
        same = own.keys() == ref_state.keys() and all(own[k].shape == ref_state[k].shape for k in own)
        if same:
            self.model.load_state_dict(ref_state)
            return [
                _note(
                    Severity.INFO,
                    MessageKind.WEIGHTS,
                    "copied the reference's weights into the custom model (names match)",
                )
            ]
        differing = sorted(set(own) ^ set(ref_state))[:4]
        why = f"parameter names differ ({', '.join(differing)})" if differing else "parameter shapes differ"
        return [
            _note(
                Severity.INFO,
                MessageKind.WEIGHTS,
                f"weights not copied: {why}; both models were built from the same seed instead",
            )
        ]

    def _triton_error(self, exc: Exception) -> EvalError | None:
        if type(exc).__module__.split(".")[0] != "triton":
            return None
        try:
            location = triton_error_location(exc, self.file, vars(self.module) if self.module else None)
        except Exception:  # mapping is best effort: the traceback's own location still applies
            location = None
        if location is None:
            return None
        return fail(
            Phase.CHECK,
            MessageKind.TRITON_COMPILE_ERROR,
            f"{type(exc).__name__}: {exc}".strip(),
            location,
            hint="fix the Triton kernel at this line",
        )


def _note(severity: Severity, kind: MessageKind, text: str, location: Location | None = None) -> Message:
    return Message(severity, Phase.BUILD, kind, text, location)
