"""Inside the candidate: the custom file built and imported, once while it and its helper modules are unchanged.

Before any of the user's code runs, the worker is confined to what this file needs (its build target's folder, the
file's own folder). The import is the build: `load_inline` runs in it, through the build target's levers.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import ModuleType

import attrs

from kernel_eval import source_info
from kernel_eval.errors import EvalError, fail
from kernel_eval.kinds import MessageKind
from kernel_eval.protocol.candidate import LoadParams
from kernel_eval.result import Backend, Location, Message, Phase, Severity
from kernel_eval.sandbox import confine
from kernel_eval.stages import load
from kernel_eval.stages.compile import inductor_compat as inductor
from kernel_eval.stages.compile.arch import BuildArch
from kernel_eval.stages.compile.line_map import messages_from_build_error
from kernel_eval.stages.compile.target import BuildTarget

COMPAT_SHIMS = (
    (inductor.supply_grid, "triton_heuristics"),
    (inductor.map_cuda_calls_to_cpu, "empty_strided_cuda"),
)
"""Shims for Inductor-generated files, each with the text of the line its note points at."""


@attrs.define
class Imported:
    """The custom module of one load, with what its build and import had to say."""

    module: ModuleType
    notes: list[Message]
    target: BuildTarget
    fresh: bool
    """It was imported (and built) by this load, not kept from an earlier one."""


class CustomImport:
    """The custom module this worker imported, kept while its file, source and helper modules are unchanged."""

    def __init__(self) -> None:
        self._module: ModuleType | None = None
        self._key: tuple[str, bytes, dict[str, int]] | None = None
        self._notes: list[Message] = []

    def load(self, params: LoadParams, arch: BuildArch, on_gpu: bool) -> Imported:
        """Confine this worker to the file's needs, then build and import it unless it is unchanged."""
        file = str(Path(params.custom_src).resolve())
        source = Path(file).read_bytes()
        if params.backend is Backend.CUDA_EXTENSION and not on_gpu:
            raise fail(
                Phase.BUILD,
                MessageKind.CUDA_UNAVAILABLE,
                f"{Path(file).name} builds a CUDA extension (load_inline with cuda_sources): it needs a CUDA GPU",
                Location(file, source_info.line_of(file, "load_inline")),
                hint="run on a machine with an NVIDIA GPU and a CUDA build of torch (--device cuda:0)",
            )
        target = BuildTarget.of(file, params.build_dir_prefix, arch)
        if params.clear_cache:
            target.clear()
        _confine(target)
        key = (file, source, load.local_module_stamps(target.folder))
        fresh = self._module is None or key != self._key or params.clear_cache
        if fresh:
            self._module = None
            self._notes = _compat_notes(file, source.decode(errors="replace"))
            with target.building() as levers:
                self._module = _import_with_build_errors(file)
            if levers.used:
                self._notes.append(Message(Severity.INFO, Phase.BUILD, MessageKind.BUILD, levers.text()))
            self._key = (file, source, load.local_module_stamps(target.folder))
        assert self._module is not None
        return Imported(self._module, list(self._notes), target, fresh)


def _confine(target: BuildTarget) -> None:
    """Refuse under --sandbox strict when a protection is missing, else narrow reads and writes to the target's."""
    refusal = confine.refusal()
    if refusal:
        raise fail(
            Phase.LOAD,
            MessageKind.SANDBOX_UNAVAILABLE,
            f"--sandbox strict: not running {Path(target.file).name}, a protection is missing: {refusal}",
            Location(target.file, 1),
            hint="run on a host that provides it, or pass --sandbox auto to run with what this host allows",
        )
    target.confine()


def _compat_notes(file: str, source: str) -> list[Message]:
    """Install the shims an Inductor-generated source needs, with a warning for each."""
    notes = []
    for shim, marker in COMPAT_SHIMS:
        text = shim(source)
        if text:
            where = Location(file, source_info.line_of(file, marker))
            notes.append(Message(Severity.WARNING, Phase.BUILD, MessageKind.COMPAT_SHIM, text, where))
    return notes


def _import_with_build_errors(file: str) -> ModuleType:
    """Import `file`. A failed extension build becomes the compiler's messages, mapped to the file's lines."""
    log_start = os.lseek(1, 0, os.SEEK_CUR)
    try:
        return load.import_file(file, "custom")
    except EvalError as error:
        first = error.messages[0]
        if "Error building extension" not in first.message:
            raise
        output = first.message + "\n" + _read_own_output(log_start)
        raise _compile_error(file, output) from None


def _read_own_output(start: int) -> str:
    """What this worker wrote to its output file from byte `start` on: the compiler's output during a build."""
    try:
        with open("/proc/self/fd/1", "rb") as log:
            log.seek(start)
            return log.read().decode(errors="replace")
    except OSError:
        return ""


def _compile_error(py_file: str, output: str) -> EvalError:
    messages = messages_from_build_error(output, py_file)
    for message in messages:
        message.detail = message.detail or output[-8000:]
        message.hint = message.hint or "fix the C++/CUDA source; the compiler's full output is in the detail"
    return EvalError(*messages)
