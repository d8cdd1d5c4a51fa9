"""Build time of KernelBench-style load_inline files (benchmarks/build_cases/*/model_new.py).

Full (needs a CUDA build of torch and a GPU for the CUDA cases; CPU-only cases run anywhere):

    python benchmarks/build_time.py [--limit N] [--parallel 2] [--configs all,none:2,stable:2]

  per case, through the engine (WorkerPool, as the daemon runs it): cold build (empty build cache) → verdict,
  rebuild after a one-line edit of a kernel body (warm worker) → verdict, rebuild unchanged (fresh worker, same
  cache) → verdict; median and max of each, once per lever configuration (KERNEL_EVAL_BUILD_LEVERS: `all`, `none`
  = torch as is, or levers joined by + from stable, slim, split, arch, race; `:N` runs it on the first N cases only).
  Each configuration's table prints as soon as it is done.

Compile only (no GPU, no linking; this machine's nvcc and c++):

    python benchmarks/build_time.py --compile-only [--limit N] [--header_sets extension,aten,slim]

  compiles each file's translation units with the flags torch's cpp_extension writes (its own ninja file), one at a
  time, once per header set of the .cu: `extension` (as written, plus load_inline's implicit <torch/types.h>),
  `aten` (umbrella includes → <ATen/ATen.h>), `slim` (the rewrite inline_build uses), `lean` (slim without
  <ATen/TensorOperators.h>: what a source without tensor arithmetic would need); main.cpp once as
  load_inline writes it and once (`binding`) with the slim binding headers inline_build uses; `split`: the host unit
  (lean headers) and the kernel unit (no torch headers) of split.py, apart: what an edit of a kernel recompiles.
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import simple_parsing

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "daemon"))
CASES = ROOT / "benchmarks" / "build_cases"
ALL_LEVERS = "stable,slim,split,arch,race"


@dataclass
class Options:
    compile_only: bool = False  # compile translation units only (no GPU, no link)
    limit: int = 0  # first N cases (0 = all)
    cases: str = str(CASES)  # folder of <case>/{model.py, model_new.py}
    header_sets: str = (
        "extension,aten,slim,binding,split"  # --compile-only: .cu header sets; binding: main.cpp slim
    )
    arch: str = "9.0"  # --compile-only: TORCH_CUDA_ARCH_LIST when torch cannot see a GPU
    # full: lever configurations in order, each `all`, `none` or levers joined by + (stable+slim), `:N` = first N cases
    configs: str = "all,none:2,stable:2"
    parallel: int = 2  # full: cases evaluated at once (each with its own worker pool)
    device: str = ""  # full: "" = cuda:0 when present, else cpu (CPU-only cases)


def main() -> None:
    options = simple_parsing.parse(
        Options, add_option_string_dash_variants=simple_parsing.DashVariant.UNDERSCORE_AND_DASH
    )
    cases = sorted(path.parent for path in Path(options.cases).glob("*/model_new.py"))
    if options.limit:
        cases = cases[: options.limit]
    if options.compile_only:
        compile_only(cases, options)
    else:
        full(cases, options)


# ----------------------------------------------------------------------------------------------- compile only


def compile_only(cases: list[Path], options: Options) -> None:
    from kernel_eval.stages.compile import headers

    sets = [name.strip() for name in options.header_sets.split(",") if name.strip()]
    prepare_toolkit(options.arch)
    rows: list[dict[str, float]] = []
    cpu_rows: list[dict[str, float]] = []
    for case in cases:
        call = captured_call(case / "model_new.py")
        row: dict[str, float] = {}
        cpu_row: dict[str, float] = {}
        cpp = call["cpp_sources"]
        cpp = [cpp] if isinstance(cpp, str) else list(cpp)
        for index, header_set in enumerate(sets):
            if header_set == "binding":  # main.cpp with the lean tier's binding headers
                binding = headers.slim_binding_sources(cpp, base=headers.LEAN_HEADERS)
                if binding is None:
                    print(f"{case.name}: no slim binding (the C++ sources need more)", flush=True)
                    continue
                times = compile_units(call, binding, None, ["main.o"], header_set)
                row["c++ main binding"] = times.get("main.o", float("nan"))
                cpu_row["c++ main binding"] = times.get("main.o cpu", float("nan"))
                print(f"{case.name} {header_set}: {times}", flush=True)
                continue
            if header_set == "split":  # the host unit (lean headers) and the kernel unit, apart
                split_times = compile_split(call, cpp, headers)
                if split_times is None:
                    print(f"{case.name}: no split (e.g. a templated kernel)", flush=True)
                    continue
                row["nvcc split host"] = split_times.get("cuda.cuda.o", float("nan"))
                row["nvcc split kernels"] = split_times.get("kernels.cuda.o", float("nan"))
                cpu_row["nvcc split host"] = split_times.get("cuda.cuda.o cpu", float("nan"))
                cpu_row["nvcc split kernels"] = split_times.get("kernels.cuda.o cpu", float("nan"))
                print(f"{case.name} {header_set}: {split_times}", flush=True)
                continue
            cuda = cuda_text(call, header_set, headers)
            if cuda is None:
                print(
                    f"{case.name}: no {header_set} variant (the source needs the umbrella headers)",
                    flush=True,
                )
                continue
            targets = ["main.o", "cuda.cuda.o"] if index == 0 else ["cuda.cuda.o"]
            times = compile_units(call, ["#include <torch/extension.h>", *cpp], cuda, targets, header_set)
            if "main.o" in times:
                row["c++ main.cpp"] = times["main.o"]
                cpu_row["c++ main.cpp"] = times.get("main.o cpu", float("nan"))
            row[f"nvcc {header_set}"] = times.get("cuda.cuda.o", float("nan"))
            cpu_row[f"nvcc {header_set}"] = times.get("cuda.cuda.o cpu", float("nan"))
            print(f"{case.name} {header_set}: {times}", flush=True)
        rows.append(row)
        cpu_rows.append(cpu_row)
        names = [c.name for c in cases[: len(rows)]]
        print_table("translation unit wall seconds (compiled one at a time)", names, rows)
        print_table("translation unit CPU seconds (compiler user + system)", names, cpu_rows)


def prepare_toolkit(arch: str) -> None:
    """A CPU build of torch knows no CUDA_HOME and no GPU arch: point it at this machine's nvcc and `arch`."""
    from torch.utils import cpp_extension

    if cpp_extension.CUDA_HOME is None:
        nvcc = shutil.which("nvcc")
        if nvcc is None:
            raise SystemExit("--compile-only needs nvcc on PATH")
        real = Path(os.path.realpath(nvcc))
        wrapper = Path(nvcc).read_text(errors="replace") if real == Path(nvcc) else ""
        target = re.search(r"exec\s+(\S+/bin/nvcc)", wrapper)  # a shell wrapper that execs the real one
        cpp_extension.CUDA_HOME = str(Path(target.group(1) if target else real).parent.parent)
    import torch

    if not torch.cuda.is_available():
        os.environ.setdefault("TORCH_CUDA_ARCH_LIST", arch)


def captured_call(custom: Path) -> dict[str, Any]:
    """The keyword arguments of the file's (first) load_inline call, captured by importing it without building."""
    import importlib.util
    import inspect

    from torch.utils import cpp_extension

    original = cpp_extension.load_inline
    calls: list[dict[str, Any]] = []

    def capture(*args: Any, **kwargs: Any) -> Any:
        bound = inspect.signature(original).bind(*args, **kwargs)
        bound.apply_defaults()
        calls.append(dict(bound.arguments))
        return None

    cpp_extension.load_inline = capture
    try:
        spec = importlib.util.spec_from_file_location(f"_build_case_{custom.parent.name}", custom)
        assert spec and spec.loader
        spec.loader.exec_module(importlib.util.module_from_spec(spec))
    finally:
        cpp_extension.load_inline = original
    if not calls:
        raise SystemExit(f"{custom}: no load_inline call")
    return calls[0]


def cuda_text(call: dict[str, Any], header_set: str, headers: Any) -> str | None:
    """The .cu text load_inline would write for `header_set` (implicit headers included)."""
    sources = call["cuda_sources"]
    text = "\n".join([sources] if isinstance(sources, str) else list(sources or []))
    if header_set == "extension":
        return "\n".join(["#include <torch/types.h>", "#include <cuda.h>", "#include <cuda_runtime.h>", text])
    if header_set == "aten":
        body = headers.UMBRELLA.sub("", text)
        aliases = headers.torch_aliases(str(headers.torch_include_dir()))
        return "\n".join(
            ["#include <cuda.h>", "#include <cuda_runtime.h>", "#include <ATen/ATen.h>", aliases, body]
        )
    if header_set in ("slim", "lean"):  # lean: slim without <ATen/TensorOperators.h> (tensor arithmetic)
        base = headers.BASE_HEADERS if header_set == "slim" else headers.LEAN_HEADERS
        slim = headers.slim_cuda_source(text, base=base)
        return slim.text if slim else None
    raise SystemExit(f"unknown header set {header_set!r}")


def compile_split(call: dict[str, Any], cpp: list[str], headers: Any) -> dict[str, float] | None:
    """The split's two units (stages/compile/split.py): the host unit with the lean tier's headers, the kernels."""
    from kernel_eval.stages.compile.split import split_source

    sources = call["cuda_sources"]
    parts = split_source("\n".join([sources] if isinstance(sources, str) else list(sources or [])))
    if parts is None:
        return None
    lean = headers.slim_cuda_source(parts.host, base=headers.LEAN_HEADERS)
    host = (
        lean.text
        if lean
        else "\n".join(["#include <torch/types.h>", "#include <cuda_runtime.h>", parts.host])
    )
    binding = headers.slim_binding_sources(cpp, base=headers.LEAN_HEADERS) or [
        "#include <torch/extension.h>",
        *cpp,
    ]
    return compile_units(call, binding, host, ["cuda.cuda.o", "kernels.cuda.o"], "split", parts.kernels)


def compile_units(
    call: dict[str, Any],
    cpp: list[str],
    cuda: str | None,
    targets: list[str],
    label: str,
    kernels: str = "",
) -> dict[str, float]:
    """Compile `targets` of the call's build from scratch, one at a time, with main.cpp from `cpp` and cuda.cu
    from `cuda` (None: as written); wall seconds each, and CPU seconds (user + system of the compiler processes,
    steady on a shared machine) under `<target> cpu`."""
    from torch.utils import cpp_extension as torch_cpp_extension

    cpp_extension: Any = torch_cpp_extension  # its private build hooks are replaced below

    from kernel_eval.stages.compile.ninja_runner import unit_times
    from kernel_eval.stages.compile.torch_hooks import FixedVersion

    build_dir = Path(tempfile.mkdtemp(prefix=f"kernel-eval-tu-{label}-"))
    saved = (cpp_extension._run_ninja_build, cpp_extension._import_module_from_library)
    saved_versioner = cpp_extension.JIT_EXTENSION_VERSIONER
    results: dict[str, float] = {}

    def run_ninja(directory: str, verbose: bool, error_prefix: str) -> None:
        import resource
        import subprocess

        if kernels:
            from kernel_eval.stages.compile.split import add_kernel_unit

            add_kernel_unit(Path(directory), kernels)

        for target in targets:
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            done = subprocess.run(["ninja", "-j", "1", target], cwd=directory, capture_output=True, text=True)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            if done.returncode != 0:
                print(f"  {label}: compile failed:\n{done.stdout[-3000:]}", flush=True)
            cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
            results[f"{target} cpu"] = round(cpu, 2) if done.returncode == 0 else float("nan")
        results.update(unit_times(Path(directory)))

    cpp_extension._run_ninja_build = run_ninja
    cpp_extension._import_module_from_library = lambda *args: None
    cpp_extension.JIT_EXTENSION_VERSIONER = FixedVersion()
    try:
        kwargs = dict(call, build_directory=str(build_dir), no_implicit_headers=True, cpp_sources=list(cpp))
        kwargs["cuda_sources"] = [cuda if cuda is not None else cuda_text(call, "extension", None)]
        cpp_extension.load_inline(**kwargs)
    finally:
        cpp_extension._run_ninja_build, cpp_extension._import_module_from_library = saved
        cpp_extension.JIT_EXTENSION_VERSIONER = saved_versioner
        shutil.rmtree(build_dir, ignore_errors=True)
    return results


# ------------------------------------------------------------------------------------------------------- full


STEPS = ("cold", "edit", "unchanged")


def full(cases: list[Path], options: Options) -> None:
    import torch

    cuda = torch.cuda.is_available() if not options.device else options.device.startswith("cuda")
    if not cuda:
        cases = [case for case in cases if "cuda_sources=" not in (case / "model_new.py").read_text()]
        print(f"no CUDA: CPU-only cases ({len(cases)})", flush=True)
    device = options.device or ("cuda:0" if cuda else "cpu")
    for spec in [part.strip() for part in options.configs.split(",") if part.strip()]:
        config, _, limit = spec.partition(":")
        chosen = cases[: int(limit)] if limit else cases
        os.environ["KERNEL_EVAL_BUILD_LEVERS"] = ALL_LEVERS if config == "all" else config.replace("+", ",")
        print(f"\n== levers: {os.environ['KERNEL_EVAL_BUILD_LEVERS']} ({len(chosen)} cases) ==", flush=True)
        with ThreadPoolExecutor(max(1, options.parallel)) as pool:
            rows = list(pool.map(lambda case: measure_case(case, case_device(case, device)), chosen))
        print_table(
            f"seconds to verdict, levers {config}", [case.name for case in chosen], rows, summary=True
        )


def case_device(case: Path, device: str) -> str:
    """A case with no CUDA sources builds a CPU extension: its tensors stay on the CPU."""
    return device if "cuda_sources=" in (case / "model_new.py").read_text() else "cpu"


def measure_case(case: Path, device: str) -> dict[str, float]:
    from kernel_eval.engine.pool import WorkerPool
    from kernel_eval.request import EvalRequest

    work = Path(tempfile.mkdtemp(prefix=f"kernel-eval-bt-{case.name}-"))
    shutil.copytree(case, work / case.name)
    ref, custom = work / case.name / "model.py", work / case.name / "model_new.py"
    request = EvalRequest(str(ref), str(custom), device=device, build_dir_prefix=str(work / "builds"))
    row: dict[str, float] = {}
    try:
        with WorkerPool() as pool:
            pool.evaluate(EvalRequest(str(ref), str(warmup_file(ref)), device=device))  # workers started
            for step in STEPS:
                if step == "edit":
                    edit_kernel_body(custom, 1)
                if step == "unchanged":
                    pool.replace_candidate()  # a fresh worker: nothing loaded, the build cache as left
                started = time.perf_counter()
                result = pool.evaluate(request)
                row[step] = time.perf_counter() - started
                verdict = getattr(result.verdict, "value", result.verdict)
                notes = [m.message for m in result.messages if m.kind == "build"]
                print(
                    f"{case.name} {step}: {row[step]:.1f} s, verdict {verdict}; {' '.join(notes)}", flush=True
                )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return row


def warmup_file(ref: Path) -> Path:
    """The reference itself as a ModelNew: starts the workers without building anything."""
    warm = ref.with_name("model_new_warmup.py")
    warm.write_text(ref.read_text().replace("class Model(", "class ModelNew("))
    return warm


def edit_kernel_body(custom: Path, serial: int) -> None:
    """A one-line edit of the first kernel's body (a statement the compiler drops), as a user's edit would be."""
    lines = custom.read_text().splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if "__global__" in line), None)
    if start is None:  # a C++-only case: its first function body
        start = next(i for i, line in enumerate(lines) if re.search(r"\)\s*\{\s*$", line))
    brace = next(i for i in range(start, len(lines)) if lines[i].rstrip().endswith("{"))
    lines.insert(brace + 1, f"    int kernel_eval_edit = {serial}; (void)kernel_eval_edit;\n")
    custom.write_text("".join(lines))


# ------------------------------------------------------------------------------------------------------ table

_print_lock = threading.Lock()


def print_table(title: str, names: list[str], rows: list[dict[str, float]], summary: bool = True) -> None:
    columns = list(dict.fromkeys(key for row in rows for key in row))
    width = max([len(name) for name in names] + [8])
    cell = max([len(column) + 2 for column in columns] + [12])

    def line(label: str, values: list[float]) -> str:
        return f"{label:<{width}}" + "".join(f"{value:>{cell}.1f}" for value in values)

    with _print_lock:
        print(f"\n{title}")
        print(" " * width + "".join(f"{column:>{cell}}" for column in columns))
        for name, row in zip(names, rows, strict=False):
            print(line(name, [row.get(column, float("nan")) for column in columns]))
        if summary and rows:
            for label, reduce in (("median", statistics.median), ("max", max)):
                values = [[row[c] for row in rows if c in row] for c in columns]
                print(line(label, [reduce(v) if v else float("nan") for v in values]))
        print(flush=True)


if __name__ == "__main__":
    main()
