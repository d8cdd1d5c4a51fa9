"""The judge worker: the trusted side. It loads the reference, makes every input, computes and keeps the reference
outputs, compares what the candidate returns, and times the reference. Custom code never runs here."""

from __future__ import annotations

from typing import Any

import attrs
import torch

from kernel_eval import check, load, timing
from kernel_eval.errors import UserCode
from kernel_eval.inputs import clone_tree, seeded, split_args, to_device
from kernel_eval.result import Phase
from kernel_eval.worker.payload import pack, unpack
from kernel_eval.worker.runtime import Runtime


@attrs.define
class _Trial:
    args: list[Any]
    kwargs: dict[str, Any]
    output: Any


class Judge:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.file = ""
        self.model: Any = None
        self.get_inputs: Any = None
        self.trials: dict[int, _Trial] = {}

    def prepare(self, args: dict[str, Any], blob: bytes) -> tuple[dict[str, Any], bytes]:
        self.file, self.trials = args["ref_src"], {}
        module = load.import_file(self.file, "reference")
        cls = load.entry_point(module, args["entry_point"], self.file, "reference")
        self.get_inputs = load.required_function(module, "get_inputs", self.file)
        get_init = getattr(module, "get_init_inputs", list)
        with self._user_code(Phase.LOAD, "reference_error"):
            init_args, init_kwargs = split_args(get_init(), "get_init_inputs()")
            with seeded(args["seed"]):
                self.model = cls(*clone_tree(init_args), **clone_tree(init_kwargs))
            state = {k: v.detach().cpu() for k, v in self.model.state_dict().items()}
            self.model = self.model.to(self.runtime.device)
        return {}, pack({"args": init_args, "kwargs": init_kwargs, "state_dict": state})

    def trial(self, args: dict[str, Any], blob: bytes) -> tuple[dict[str, Any], bytes]:
        """Fresh inputs from this trial's seed; the reference runs on its own clone of them."""
        with self._user_code(Phase.CHECK, "reference_error"):
            with seeded(args["seed"]):
                call_args, call_kwargs = split_args(self.get_inputs(), "get_inputs()")
            call_args = to_device(call_args, self.runtime.device)
            call_kwargs = to_device(call_kwargs, self.runtime.device)
            payload = pack({"args": call_args, "kwargs": call_kwargs})
            with torch.no_grad():
                output = self.model(*clone_tree(call_args), **clone_tree(call_kwargs))
            self.runtime.sync()
        self.trials[args["trial"]] = _Trial(call_args, call_kwargs, output)
        return {}, payload

    def compare(self, args: dict[str, Any], blob: bytes) -> tuple[dict[str, Any], bytes]:
        custom_output = unpack(blob, self.runtime.device)
        comparisons = check.compare_outputs(
            self.trials[args["trial"]].output, custom_output, args["atol"], args["rtol"]
        )
        return {"outputs": [attrs.asdict(c) for c in comparisons]}, b""

    def time(self, args: dict[str, Any], blob: bytes) -> tuple[dict[str, Any], bytes]:
        first = self.trials[min(self.trials)]
        call_args, call_kwargs = clone_tree(first.args), clone_tree(first.kwargs)

        def run() -> object:
            with torch.no_grad():
                return self.model(*call_args, **call_kwargs)

        with self._user_code(Phase.TIME, "reference_error"):
            times = timing.benchmark(run, self.runtime.device, args["warmup"], args["trials"])
        device = self.runtime.device
        return {
            "times_ms": times,
            "method": timing.method_description(device),
            "meaningful": timing.timings_meaningful(device),
        }, b""

    def _user_code(self, phase: Phase, kind: str) -> UserCode:
        return UserCode(phase, kind, (self.file,))
