"""load_inline builds in a stable directory: what ninja recompiles after an edit, in-process reloads, lighter
headers and their fallback. Real builds are C++ only (plus a header-free .cu where nvcc is installed)."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path
from typing import Any

import pytest
from fake_builds import fake_load_inline

from kernel_eval.stages.compile import arch as build_arch
from kernel_eval.stages.compile import headers, inline_build, torch_hooks
from kernel_eval.stages.compile.inline_build import InlineBuilds
from kernel_eval.stages.compile.ninja_runner import unit_times
from kernel_eval.stages.compile.torch_hooks import Built

KERNEL = """#include <torch/extension.h>
#include <cuda_runtime.h>

__global__ void scale_kernel(const float* x, float* y, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] = 2.f * x[i];
}

torch::Tensor scale_cuda(torch::Tensor x) {
    TORCH_CHECK(x.is_cuda(), "x must be a CUDA tensor");
    auto y = torch::empty_like(x);
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "scale", [&] {});
    scale_kernel<<<(x.numel() + 255) / 256, 256>>>(x.data_ptr<float>(), y.data_ptr<float>(), x.numel());
    return y;
}
"""


def pybind_source(value: int) -> str:
    return f"#include <pybind11/pybind11.h>\nint answer() {{ return {value}; }}"


def load_answer(root: Path, name: str, value: int) -> tuple[Any, inline_build.Levers]:
    from torch.utils import cpp_extension

    builds = InlineBuilds(root)
    with builds.installed() as levers:
        module = cpp_extension.load_inline(
            name=name,
            cpp_sources=pybind_source(value),
            functions=["answer"],
            with_pytorch_error_handling=False,
            no_implicit_headers=True,  # pybind11 only: a quick build
        )
    return module, levers


def test_slim_rewrite_replaces_only_the_umbrella_includes() -> None:
    slim = headers.slim_cuda_source(KERNEL)
    assert slim is not None
    assert "ATen/ops/empty_like.h" in slim.headers and "ATen/Dispatch.h" in slim.headers
    active = [line for line in slim.text.splitlines() if line.startswith("#include")]
    assert "#include <torch/extension.h>" not in active and "#include <cuda_runtime.h>" in active
    body = slim.text[slim.text.index("// (kernel-eval) was: #include <torch/extension.h>") :]
    kept = [line for line in KERNEL.splitlines() if "torch/extension.h" not in line]
    assert [line for line in body.splitlines()[1:]] == kept  # the user's code itself is untouched
    assert (
        "using namespace at;" in slim.text and "kFloat32" in slim.text
    )  # torch:: names as <torch/types.h> gives


@pytest.mark.parametrize("marker", ["PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {}", "x.requires_grad_(true);"])
def test_slim_is_not_tried_on_sources_needing_the_umbrella_headers(marker: str) -> None:
    assert headers.slim_cuda_source(KERNEL + marker) is None


def test_edit_rebuilds_in_the_same_directory_and_reloads_in_process(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "torch_extensions"
    first, levers = load_answer(root, "ext", 1)
    assert first.answer() == 1 and "ext/main.o" in levers.unit_times
    assert "compiling main.cpp (c++)" in capsys.readouterr().out  # build phases go to the worker's log

    again, levers = load_answer(root, "ext", 1)
    assert again.answer() == 1 and levers.unit_times == {}  # unchanged: ninja recompiles nothing
    assert "nothing recompiled" in levers.text()

    edited, levers = load_answer(root, "ext", 2)
    assert edited.answer() == 2 and first.answer() == 1  # the same process sees the edit; old module intact
    assert "ext/main.o" in levers.unit_times
    assert sorted(p.name for p in root.iterdir() if not p.name.startswith(".")) == ["ext"]


def test_distinct_extensions_never_share_objects(tmp_path: Path) -> None:
    root = tmp_path / "torch_extensions"
    one, _ = load_answer(root, "first", 1)
    two, _ = load_answer(root, "second", 2)
    assert (one.answer(), two.answer()) == (1, 2)
    assert (root / "first" / "main.o").exists() and (root / "second" / "main.o").exists()


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="needs nvcc")
def test_unchanged_translation_unit_is_not_recompiled_after_an_edit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch
    from torch.utils import cpp_extension

    if (
        cpp_extension.CUDA_HOME is None
    ):  # a CPU build of torch: compile with this machine's nvcc (linking fails)
        nvcc = Path(shutil.which("nvcc") or "")
        home = next(
            p for p in (Path("/usr/local/cuda"), nvcc.resolve().parent.parent) if (p / "bin").is_dir()
        )
        monkeypatch.setattr(cpp_extension, "CUDA_HOME", str(home))
    root = tmp_path / "torch_extensions"
    arch = build_arch.of_visible().torch_list or "9.0"

    def build(kernel_line: str) -> None:
        builds = InlineBuilds(root, arch=arch, slim=False, echo=False)
        cuda = f"#include <cuda_runtime.h>\n__global__ void k(float* x) {{\n    {kernel_line}\n}}\n"
        with builds.installed():
            try:
                cpp_extension.load_inline(
                    name="two_units",
                    cpp_sources=pybind_source(0),
                    cuda_sources=cuda,
                    functions=["answer"],
                    with_pytorch_error_handling=False,
                    no_implicit_headers=True,
                )
            except (RuntimeError, ImportError):
                if torch.cuda.is_available():
                    raise  # CPU torch lacks the CUDA libraries to link against; the objects are what counts

    build_dir = root / "two_units"
    build("x[0] = 1.f;")
    assert {"main.o", "cuda.cuda.o"} <= set(unit_times(build_dir))
    log_size = (build_dir / ".ninja_log").stat().st_size
    build("x[0] = 2.f;")  # a one-line edit of the kernel body
    recompiled = set(unit_times(build_dir, log_size))
    assert "cuda.cuda.o" in recompiled and "main.o" not in recompiled


def fake_attempts(tmp_path: Path, builds: InlineBuilds) -> list[inline_build.Attempt]:
    slim = builds._attempt("slim headers", tmp_path / "ext.slim", {}, ("ATen/core/Tensor.h",))
    original = builds._attempt("", tmp_path / "ext", {})
    return [slim, original]


@pytest.mark.parametrize("race", [False, True])
def test_a_failing_slim_build_falls_back_to_the_original(tmp_path: Path, race: bool) -> None:
    builds = InlineBuilds(tmp_path, race=race)
    attempts = fake_attempts(tmp_path, builds)

    def original(**kwargs: Any) -> Built:
        if kwargs["build_directory"].endswith(".slim"):
            raise RuntimeError("Error building extension 'ext': no member named 'foo' in namespace 'at'")
        return Built(Path(kwargs["build_directory"]) / "ext.so")

    winner, library = builds._build(original, attempts)
    assert winner is attempts[1] and library == tmp_path / "ext" / "ext.so"


def test_racing_keeps_the_first_build_and_stops_the_other(tmp_path: Path) -> None:
    builds = InlineBuilds(tmp_path, race=True)
    attempts = fake_attempts(tmp_path, builds)
    stopped = threading.Event()

    def original(**kwargs: Any) -> Built:
        directory = kwargs["build_directory"]
        if not directory.endswith(".slim"):  # the original build: runs until stopped
            assert attempts[1].run.stop.wait(10)
            stopped.set()
            raise RuntimeError("Error building extension 'ext': stopped")
        return Built(Path(directory) / "ext.so")

    winner, _ = builds._build(original, attempts)
    assert winner is attempts[0] and stopped.is_set() and builds.levers.raced


def test_both_failing_raises_the_original_error(tmp_path: Path) -> None:
    builds = InlineBuilds(tmp_path, race=False)

    def original(**kwargs: Any) -> Built:
        raise RuntimeError(f"Error building extension 'ext': in {kwargs['build_directory']}")

    with pytest.raises(RuntimeError, match=r"in .*/ext$"):
        builds._build(original, fake_attempts(tmp_path, builds))


def test_slim_binding_builds_and_converts_tensors(tmp_path: Path) -> None:
    """main.cpp with the slim binding headers instead of <torch/extension.h> still binds torch::Tensor functions
    (type casters, wrap_pybind_function turning c10::Error into Python errors)."""
    import torch
    from torch.utils import cpp_extension

    code = 'torch::Tensor twice(torch::Tensor x) { TORCH_CHECK(x.dim() == 1, "1-D only"); return x.mul(2); }'
    sources = headers.slim_binding_sources([code], base=headers.LEAN_HEADERS)
    assert sources is not None and "torch/extension.h" not in sources[0]
    with InlineBuilds(tmp_path, echo=False).installed():
        module = cpp_extension.load_inline(
            name="slim_binding", cpp_sources=sources, functions=["twice"], no_implicit_headers=True
        )
    assert torch.equal(module.twice(torch.ones(3)), torch.full((3,), 2.0))
    with pytest.raises(RuntimeError, match="1-D only"):
        module.twice(torch.ones(2, 2))


def test_a_slim_failure_is_not_paid_again_for_the_same_headers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(torch_hooks, "import_copy", lambda ext, library, name, is_python_module: library)
    tried: list[str] = []

    def error(folder: Path, cuda_sources: str) -> str | None:
        if folder.suffix in (".lean", ".slim"):
            return "Error building extension 'ext': slim headers lack something"
        return None

    original = fake_load_inline(tried, error)

    for _ in range(2):
        builds = InlineBuilds(tmp_path, race=False, echo=False, split=False)
        library = builds.load_inline(original, name="ext", cpp_sources="", cuda_sources=KERNEL)
        assert library == tmp_path / "ext" / "ext.so"
        assert builds.levers.slim_failed == ["ext (lean headers)", "ext (slim headers)"]
    assert tried == ["ext.lean", "ext.slim", "ext", "ext"]  # the second build skips the tiers that failed
    assert "did not build" in builds.levers.text()


def test_ninja_commands_are_described_by_translation_unit() -> None:
    from kernel_eval.stages.compile.ninja_runner import describe

    nvcc = "/usr/local/cuda/bin/nvcc -MD -MF cuda.cuda.o.d -DTORCH_EXTENSION_NAME=ext -c /b/ext/cuda.cu -o cuda.cuda.o"
    assert describe(nvcc) == "compiling cuda.cu (nvcc)"
    assert describe("c++ -MMD -MF main.o.d -fPIC -c /b/ext/main.cpp -o main.o") == "compiling main.cpp (c++)"
    assert describe("c++ main.o cuda.cuda.o -shared -o ext.so") == "linking ext.so"


def test_build_note_says_what_was_done() -> None:
    levers = inline_build.Levers(stable_dir=["ext"], slim={"ext": ("ATen/core/Tensor.h",)}, arch="9.0")
    levers.unit_times = {"ext/cuda.cuda.o": 8.04}
    text = levers.text()
    assert "stable build directory for ext" in text and "ATen/core/Tensor.h" in text
    assert "TORCH_CUDA_ARCH_LIST=9.0" in text and "ext/cuda.cuda.o 8.0 s" in text


def test_lean_headers_first_then_the_tier_with_tensor_operators(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(torch_hooks, "import_copy", lambda ext, library, name, is_python_module: library)
    tried: list[str] = []

    def error(folder: Path, cuda_sources: str) -> str | None:
        if "TensorOperators" not in cuda_sources:  # host code with `acc / n` needs the operators
            return "Error building extension 'ext': no operator \"/\" matches these operands"
        return None

    original = fake_load_inline(tried, error)

    for _ in range(2):
        builds = InlineBuilds(tmp_path, race=False, echo=False, split=False)
        assert (
            builds.load_inline(original, name="ext", cpp_sources="", cuda_sources=KERNEL).parent.name
            == "ext.slim"
        )
        assert "ATen/TensorOperators.h" in builds.levers.slim["ext"]
    assert tried == ["ext.lean", "ext.slim", "ext.slim"]
