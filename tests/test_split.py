"""Kernels apart from their host code: which parts of a load_inline CUDA source go to the kernel unit (no torch
headers), which to the host unit, when the split gives up, and how the build takes it (the split first, the next
attempt when it does not build or import)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fake_builds import fake_load_inline

from kernel_eval.stages.compile import inline_build, torch_hooks
from kernel_eval.stages.compile.inline_build import InlineBuilds
from kernel_eval.stages.compile.split import add_kernel_unit, split_source, template_stub_flags

ROOT = Path(__file__).resolve().parent.parent

SOURCE = """#include <torch/extension.h>
#include <ATen/cuda/CUDAContext.h>
#include <cuda_runtime.h>
#define TILE 16  // { a brace in a comment
#define CHECK(x) TORCH_CHECK(x.is_cuda(), #x " must be on CUDA")

struct Pair { float a, b; };
constexpr int kBlock = 256;
__constant__ float kScale[2] = {1.f, 2.f};

__device__ __forceinline__ float twice(float v) { return 2.f * v; }

inline __host__ __device__ int cdiv(int a, int b) { return (a + b - 1) / b; }

static __global__ void __launch_bounds__(256) scale_kernel(const float* x, float* y, int n) {
    const char* brace = "}";  // a brace in a string
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] = twice(x[i]) * kScale[0];
}

torch::Tensor scale_cuda(torch::Tensor x) {
    CHECK(x);
    auto y = torch::empty_like(x);
    int n = x.numel();
    scale_kernel<<<cdiv(n, kBlock), kBlock, 0, at::cuda::getCurrentCUDAStream()>>>(
        x.data_ptr<float>(), y.data_ptr<float>(), n);
    return y;
}
"""


def test_kernels_and_device_code_go_apart_and_the_host_keeps_a_declaration() -> None:
    parts = split_source(SOURCE)

    assert parts is not None and parts.names == ("scale_kernel",)
    kernels, host = parts.kernels, parts.host
    assert "torch/extension.h" not in kernels and "CUDAContext" not in kernels
    assert (
        "twice(x[i])" in kernels and "__constant__ float kScale" in kernels and "#define TILE 16" in kernels
    )
    assert "torch::Tensor scale_cuda" not in kernels
    assert "torch::Tensor scale_cuda" in host and "#include <torch/extension.h>" in host
    assert "void __launch_bounds__(256) scale_kernel(const float* x, float* y, int n);" in host
    assert "static" not in host.split("scale_kernel")[0].splitlines()[-1]  # launched from the other unit
    assert "twice" not in host and "kScale" not in host  # device code stays with the kernels
    assert "struct Pair" in host and "struct Pair" in kernels and host.count("constexpr int kBlock") == 1
    assert "inline __host__ __device__ int cdiv" in host and "inline __host__ __device__ int cdiv" in kernels


def test_comments_do_not_change_where_code_goes() -> None:
    commented = SOURCE.replace(
        "constexpr int kBlock", "// the block size (one __global__ launch uses it)\nconstexpr int kBlock"
    )
    commented = commented.replace(
        "torch::Tensor scale_cuda", "/* launches the __global__ template kernel */\ntorch::Tensor scale_cuda"
    )

    parts = split_source(commented)

    assert parts is not None and parts.names == ("scale_kernel",)
    assert "torch::Tensor scale_cuda" not in parts.kernels and "constexpr int kBlock" in parts.kernels


def test_torch_namespaces_stay_with_the_host_code() -> None:
    parts = split_source(
        SOURCE.replace("struct Pair", "using namespace torch;\nnamespace py = pybind11;\nstruct Pair")
    )

    assert parts is not None
    assert "using namespace torch;" in parts.host and "namespace py = pybind11;" in parts.host
    assert "torch" not in parts.kernels.replace("torch headers", "")


def test_an_edit_inside_a_kernel_leaves_the_host_unit_as_it_was() -> None:
    edited = SOURCE.replace("if (i < n)", "int unused = 7;\n    (void)unused;\n    if (i < n)")

    before, after = split_source(SOURCE), split_source(edited)

    assert before is not None and after is not None
    assert after.host == before.host and after.kernels != before.kernels


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (("static __global__ void", "template <typename T>\n__global__ void"), "a template launched untyped"),
        (("struct Pair", "namespace {\nint hidden() { return 1; }\n}\nstruct Pair"), "namespace block"),
        (("constexpr int kBlock = 256;", "int counter = 0;"), "a plain global variable"),
        (
            ("auto y = torch::empty_like(x);", "auto y = torch::empty_like(x); (void)kScale;"),
            "device variable",
        ),
        (("#define TILE 16", '#define TILE 16\nconst char* s = R"(})";'), "raw string"),
    ],
)
def test_what_cannot_be_placed_with_certainty_is_not_split(change: tuple[str, str], why: str) -> None:
    assert change[0] in SOURCE
    assert split_source(SOURCE.replace(*change)) is None, why


TEMPLATED = """#include <torch/extension.h>
template <typename scalar_t>
__global__ void relu_kernel(const scalar_t* __restrict__ x, scalar_t* __restrict__ y, int64_t n) {
    int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
    if (i < n) y[i] = x[i] > scalar_t(0) ? x[i] : scalar_t(0);
}

torch::Tensor relu_cuda(torch::Tensor x) {
    auto y = torch::empty_like(x);
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "relu", ([&] {
        relu_kernel<scalar_t><<<(x.numel() + 255) / 256, 256>>>(x.data_ptr<scalar_t>(), y.data_ptr<scalar_t>(), x.numel());
    }));
    return y;
}
"""


def test_a_templated_kernel_is_instantiated_for_the_types_its_dispatch_launches() -> None:
    parts = split_source(TEMPLATED)

    assert parts is not None
    assert (
        "template __global__ void relu_kernel<float>(const float* __restrict__ x, float* __restrict__ y"
        in (parts.kernels)
    )
    assert "relu_kernel<double>(const double*" in parts.kernels
    assert (
        "__global__ void relu_kernel(const scalar_t* __restrict__ x, scalar_t* __restrict__ y, int64_t n);"
        in (parts.host)
    )


@pytest.mark.parametrize(
    ("change", "instantiated"),
    [
        (
            ("AT_DISPATCH_FLOATING_TYPES(", "AT_DISPATCH_FLOATING_TYPES_AND_HALF("),
            None,
        ),  # c10::Half needs torch
        (("relu_kernel<scalar_t><<<", "relu_kernel<float><<<"), ["float"]),
        (("relu_kernel<scalar_t><<<", "relu_kernel<MyType><<<"), None),
        (("template <typename scalar_t>", "template <typename scalar_t, int kBlock>"), None),
    ],
)
def test_a_templated_kernel_whose_types_need_torch_or_are_unknown_is_not_split(
    change: tuple[str, str], instantiated: list[str] | None
) -> None:
    assert change[0] in TEMPLATED
    parts = split_source(TEMPLATED.replace(*change))

    if instantiated is None:
        assert parts is None
    else:
        assert parts is not None
        assert [t for t in ("float", "double") if f"relu_kernel<{t}>(" in parts.kernels] == instantiated


def test_a_source_without_kernels_is_not_split() -> None:
    assert (
        split_source("#include <torch/extension.h>\ntorch::Tensor f(torch::Tensor x) { return x; }\n") is None
    )


NINJA = """ninja_required_version = 1.3
cxx = c++
nvcc = /usr/local/cuda/bin/nvcc

cuda_cflags = -DTORCH_EXTENSION_NAME=ext -O3

rule compile
  command = $cxx -MMD -MF $out.d $cflags -c $in -o $out $post_cflags

rule cuda_compile
  command = $nvcc $cuda_cflags -c $in -o $out $cuda_post_cflags

rule link
  command = $cxx $in $ldflags -o $out

build main.o: compile /b/ext/main.cpp
build cuda.cuda.o: cuda_compile /b/ext/cuda.cu

build ext.so: link main.o cuda.cuda.o

default ext.so
"""


def test_the_kernel_unit_joins_torchs_build_file_once_and_is_rewritten_only_when_changed(
    tmp_path: Path,
) -> None:
    (tmp_path / "build.ninja").write_text(NINJA)

    add_kernel_unit(tmp_path, "__global__ void k() {}\n")
    stamp = (tmp_path / "kernels.cu").stat().st_mtime_ns
    add_kernel_unit(tmp_path, "__global__ void k() {}\n")

    manifest = (tmp_path / "build.ninja").read_text()
    assert f"build kernels.cuda.o: cuda_compile {tmp_path.resolve() / 'kernels.cu'}" in manifest
    assert "build ext.so: link main.o cuda.cuda.o kernels.cuda.o" in manifest
    assert manifest.count("kernels.cuda.o") == 2
    assert (tmp_path / "kernels.cu").stat().st_mtime_ns == stamp


def _fake_builds(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    fails: set[str],
    import_fails: frozenset[str] = frozenset(),
    on_build: Callable[[InlineBuilds, Path], None] = lambda builds, folder: None,
) -> tuple[InlineBuilds, list[str], Any]:
    tried: list[str] = []
    builds = InlineBuilds(tmp_path, race=False, echo=False, split=True)

    def error(folder: Path, cuda_sources: str) -> str | None:
        on_build(builds, folder)
        return f"Error building extension 'ext' in {folder}" if folder.name in fails else None

    def imported(ext: Any, library: Path, name: str, is_python_module: bool) -> Path:
        if library.parent.name in import_fails:
            raise ImportError(f"{library}: undefined symbol")
        return library

    monkeypatch.setattr(torch_hooks, "import_copy", imported)
    return builds, tried, fake_load_inline(tried, error)


def test_the_split_is_built_first_and_said_in_the_note(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    builds, tried, original = _fake_builds(tmp_path, monkeypatch, fails=set())

    library = builds.load_inline(original, name="ext", cpp_sources="", cuda_sources=SOURCE)

    assert library.parent.name == "ext.split-lean" and tried == ["ext.split-lean"]
    assert "kernels built apart from the host code for ext" in builds.levers.text()


def test_a_split_that_does_not_build_leaves_the_build_to_the_next_attempt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    builds, tried, original = _fake_builds(tmp_path, monkeypatch, fails={"ext.split-lean", "ext.split-slim"})

    library = builds.load_inline(original, name="ext", cpp_sources="", cuda_sources=SOURCE)

    # their host units failed on the tiers' headers: the tiers would too, so the sources as written are next
    assert library.parent.name == "ext" and tried == ["ext.split-lean", "ext.split-slim", "ext"]
    assert builds.levers.split == []


def test_a_source_whose_host_needs_the_umbrella_headers_is_split_with_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    builds, tried, original = _fake_builds(tmp_path, monkeypatch, fails=set())
    needs_all = SOURCE.replace(
        "auto y = torch::empty_like(x);", "auto y = torch::empty_like(x); (void)x.requires_grad();"
    )

    library = builds.load_inline(original, name="ext", cpp_sources="", cuda_sources=needs_all)

    assert library.parent.name == "ext.split" and tried == ["ext.split"] and builds.levers.split == ["ext"]


def test_a_split_whose_host_needs_the_operator_headers_is_kept_on_that_tier(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for _ in range(2):  # the second build (an edit) goes straight to the split that built
        builds, tried, original = _fake_builds(tmp_path, monkeypatch, fails={"ext.split-lean", "ext.lean"})
        library = builds.load_inline(original, name="ext", cpp_sources="", cuda_sources=SOURCE)
        assert library.parent.name == "ext.split-slim" and builds.levers.split == ["ext"]

    assert tried == ["ext.split-slim"]


def test_a_split_that_does_not_import_leaves_the_build_to_the_next_attempt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    builds, tried, original = _fake_builds(
        tmp_path, monkeypatch, fails=set(), import_fails=frozenset({"ext.split-lean"})
    )

    library = builds.load_inline(original, name="ext", cpp_sources="", cuda_sources=SOURCE)

    assert library.parent.name == "ext.lean" and tried == ["ext.split-lean", "ext.lean"]
    assert builds.levers.split == []


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="needs nvcc")
@pytest.mark.parametrize(
    "case", sorted(p.parent.name for p in (ROOT / "benchmarks/build_cases").glob("*/model_new.py"))
)
def test_the_kernel_units_of_the_build_cases_compile_without_torch(case: str, tmp_path: Path) -> None:
    text = (ROOT / "benchmarks/build_cases" / case / "model_new.py").read_text()
    source = text.split('"""')[1]
    parts = split_source(source)
    if parts is None:
        assert "__global__" not in source  # the C++-only case
        return
    unit = tmp_path / "kernels.cu"
    unit.write_text(parts.kernels)

    done = subprocess.run(
        [
            "nvcc",
            "-std=c++17",
            "-arch=sm_90",
            "--expt-relaxed-constexpr",
            "-c",
            str(unit),
            "-o",
            str(tmp_path / "k.o"),
        ],
        capture_output=True,
        text=True,
    )

    assert done.returncode == 0, done.stderr[-2000:]


LINKED = """#include <cuda_runtime.h>
template <typename scalar_t>
__global__ void fill(scalar_t* y, int n) {
    if (threadIdx.x < n) y[threadIdx.x] = scalar_t(1);
}

static __global__ void __launch_bounds__(32) plain(float* y) { y[threadIdx.x] = 2.f; }

int launch(float* y, double* z) {
    fill<float><<<1, 32>>>(y, 32);
    fill<double><<<1, 32>>>(z, 32);
    plain<<<1, 32>>>(y);
    return 0;
}

int main() { return launch(nullptr, nullptr); }
"""


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="needs nvcc")
def test_the_host_units_launches_link_against_the_kernel_units_definitions(tmp_path: Path) -> None:
    parts = split_source(LINKED)
    assert parts is not None and parts.names == ("fill", "plain")
    (tmp_path / "host.cu").write_text(parts.host)
    (tmp_path / "kernels.cu").write_text(parts.kernels)
    assert parts.templated
    nvcc = ["nvcc", "-std=c++17", "-arch=sm_90", *template_stub_flags("nvcc")]

    for unit in ("host", "kernels"):
        done = subprocess.run(
            [*nvcc, "-c", f"{unit}.cu", "-o", f"{unit}.o"], cwd=tmp_path, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr[-2000:]
    linked = subprocess.run(
        [*nvcc, "host.o", "kernels.o", "-o", "app"], cwd=tmp_path, capture_output=True, text=True
    )

    assert linked.returncode == 0, linked.stderr[
        -2000:
    ]  # every launched kernel and specialization is defined


def test_a_split_is_not_raced_so_an_edit_finds_its_host_object(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    builds, tried, original = _fake_builds(tmp_path, monkeypatch, fails=set())
    builds.race = True

    library = builds.load_inline(original, name="ext", cpp_sources="", cuda_sources=SOURCE)

    assert library.parent.name.startswith("ext.split-") and all(
        name.startswith("ext.split-") for name in tried
    )


def test_a_kernel_unit_that_needs_torch_is_not_tried_again_with_other_host_headers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def kernel_unit_fails(builds: InlineBuilds, folder: Path) -> None:
        if folder.name.startswith("ext.split"):  # as the ninja hook marks a kernel unit that did not compile
            builds._splits[str(folder.resolve())].kernel_unit_failed = True
            raise RuntimeError("kernels.cu: identifier c10::Half is undefined")

    builds, tried, original = _fake_builds(tmp_path, monkeypatch, fails=set(), on_build=kernel_unit_fails)

    library = builds.load_inline(original, name="ext", cpp_sources="", cuda_sources=SOURCE)

    assert library.parent.name == "ext.lean" and tried == ["ext.split-lean", "ext.split-slim", "ext.lean"]
    assert not (tmp_path / "ext.split-lean" / ".kernel-eval-slim-failed").exists()  # the next edit may fit


def test_the_split_is_on_by_default_and_can_be_left_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(inline_build.LEVERS_ENV, raising=False)
    assert inline_build.for_key_dir(tmp_path, arch="").split

    monkeypatch.setenv(inline_build.LEVERS_ENV, "stable,slim,arch,race")
    assert not inline_build.for_key_dir(tmp_path, arch="").split
