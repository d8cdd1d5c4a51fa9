"""Compiler and Triton errors land on the right line of the user's .py file.

The C++ and CUDA tests run real load_inline builds (g++/nvcc through ninja) into a temporary
TORCH_EXTENSIONS_DIR, one build per module-scoped fixture.
"""

from __future__ import annotations

import importlib.util
import os
import runpy
import shutil
import textwrap
from pathlib import Path
from types import ModuleType

import pytest
import torch
import torch.utils.cpp_extension as cpp_extension

from kernel_eval.result import Location, Message, Phase, Severity
from kernel_eval.stages.compile.compiler_diagnostics import CompilerDiagnostic, parse_compiler_output
from kernel_eval.stages.compile.line_map import map_to_python, messages_from_build_error
from kernel_eval.stages.compile.triton_errors import triton_error_location

DATA = Path(__file__).parent / "test_data" / "compile_errors"


def line_of(path: Path, needle: str) -> int:
    lines = path.read_text().splitlines()
    hits = [number for number, text in enumerate(lines, start=1) if needle in text]
    assert len(hits) == 1, f"{needle!r} should occur once in {path.name}"
    return hits[0]


def text_at(path: Path, location: Location) -> str:
    """The text of the .py file from the location's column on."""
    return path.read_text().splitlines()[location.line - 1][location.column - 1 :]


def build_error(py_file: Path, extensions_dir: Path, cuda: bool = False) -> str:
    """Run the user's file (its module-level load_inline builds) and return the build error text."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TORCH_EXTENSIONS_DIR", str(extensions_dir))
        patch.setenv("MAX_JOBS", "2")
        if cuda and torch.version.cuda is None:  # CPU torch: compile with the installed toolkit, run nothing
            patch.setattr(
                cpp_extension, "CUDA_HOME", os.path.dirname(os.path.dirname(shutil.which("nvcc") or ""))
            )
            patch.setenv("TORCH_CUDA_ARCH_LIST", "9.0")
        with pytest.raises(RuntimeError, match="Error building extension") as raised:
            runpy.run_path(str(py_file))
    return str(raised.value)


def by_message(messages: list[Message], fragment: str) -> Message:
    found = [m for m in messages if fragment in m.message]
    assert len(found) == 1, f"one message about {fragment!r} expected, got {[m.message for m in messages]}"
    return found[0]


@pytest.fixture(scope="module")
def cpp_build(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Message]]:
    py_file = DATA / "cpp_errors.py"
    error = build_error(py_file, tmp_path_factory.mktemp("torch_extensions"))
    return py_file, messages_from_build_error(error, str(py_file))


def test_cpp_error_in_triple_quoted_literal_maps_to_its_py_line(
    cpp_build: tuple[Path, list[Message]],
) -> None:
    py_file, messages = cpp_build
    message = by_message(messages, "undeclared_scale")
    assert message.severity is Severity.ERROR
    assert message.phase is Phase.BUILD
    assert message.kind == "compile_error"
    assert message.location is not None
    assert message.location.file == str(py_file)
    assert message.location.line == line_of(py_file, "return out * undeclared_scale;")
    assert text_at(py_file, message.location).startswith("undeclared_scale")
    assert message.location.end_line == message.location.line
    assert message.location.end_column - message.location.column == len("undeclared_scale")
    assert "main.cpp" in message.hint
    assert "undeclared_scale" in message.detail and "^" in message.detail


def test_cpp_error_in_concatenated_literals_maps_to_the_piece_it_is_in(
    cpp_build: tuple[Path, list[Message]],
) -> None:
    py_file, messages = cpp_build
    message = by_message(messages, "expected ")
    assert message.location is not None
    assert message.location.line == line_of(py_file, "return a * 2")


def test_cpp_error_in_f_string_maps_to_load_inline_call(cpp_build: tuple[Path, list[Message]]) -> None:
    py_file, messages = cpp_build
    message = by_message(messages, "not_declared_either")
    assert message.location is not None
    assert message.location.line == line_of(py_file, "ext = load_inline(")
    assert "(at main.cpp:" in message.message
    assert "cpp_errors_ext" in message.hint  # the build directory where main.cpp can be read


def test_only_real_errors_are_reported(cpp_build: tuple[Path, list[Message]]) -> None:
    _, messages = cpp_build
    assert len(messages) == 3
    assert all(m.severity is Severity.ERROR for m in messages)


@pytest.fixture(scope="module")
def cuda_build(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Message]]:
    if shutil.which("nvcc") is None:
        pytest.skip("nvcc is not installed")
    py_file = DATA / "cuda_error.py"
    error = build_error(py_file, tmp_path_factory.mktemp("torch_extensions"), cuda=True)
    return py_file, messages_from_build_error(error, str(py_file))


def test_nvcc_error_maps_to_py_line(cuda_build: tuple[Path, list[Message]]) -> None:
    py_file, messages = cuda_build
    message = by_message(messages, 'identifier "undefined_scale" is undefined')
    assert message.location is not None
    assert message.location.line == line_of(py_file, "b[i] * undefined_scale;")
    assert text_at(py_file, message.location).startswith("undefined_scale")
    assert "cuda.cu" in message.hint


def test_parse_nvcc_output_captured_from_a_failed_build() -> None:
    diagnostics = parse_compiler_output((DATA / "nvcc_output.txt").read_text())
    assert diagnostics == [
        CompilerDiagnostic(
            file="/tmp/diag/ext/diag_cuda/cuda.cu",
            line=6,
            column=22,
            severity=Severity.ERROR,
            message='identifier "foo" is undefined',
            excerpt='/tmp/diag/ext/diag_cuda/cuda.cu(6): error: identifier "foo" is undefined\n'
            "      x[threadIdx.x] = foo;\n"
            "                       ^",
        )
    ]


def test_parse_nvcc_numbered_diagnostics_and_warnings() -> None:
    output = textwrap.dedent(
        """\
        /b/ext/cuda.cu(12): error #20: identifier "foo" is undefined
              y = foo;
                  ^

        /b/ext/cuda.cu(14): warning #177-D: variable "unused" was declared but never referenced
              int unused;
                  ^

        /b/ext/cuda.cu(12): error #20: identifier "foo" is undefined
              y = foo;
                  ^

        2 errors detected in the compilation of "/b/ext/cuda.cu".
        """
    )
    diagnostics = parse_compiler_output(output)
    assert [(d.line, d.column, d.severity, d.message) for d in diagnostics] == [
        (12, 9, Severity.ERROR, 'identifier "foo" is undefined'),
        (14, 9, Severity.WARNING, 'variable "unused" was declared but never referenced'),
    ]


def test_parse_gcc_output_skips_ninja_and_function_context_lines() -> None:
    diagnostics = parse_compiler_output((DATA / "gcc_output.txt").read_text())
    assert [(d.file, d.line, d.column, d.end_column, d.severity) for d in diagnostics] == [
        ("/tmp/diag/ext/diag_probe/main.cpp", 5, 13, 13 + len("undefined_thing"), Severity.ERROR),
        ("/tmp/diag/ext/diag_probe/main.cpp", 6, 17, 18, Severity.ERROR),
    ]
    assert diagnostics[0].message == "‘undefined_thing’ was not declared in this scope"
    assert "^~~~" in diagnostics[0].excerpt and "In function" not in diagnostics[0].excerpt


def test_gcc_notes_join_the_error_they_explain_and_output_is_capped() -> None:
    output = "\n".join(
        [
            "/b/main.cpp:3:5: error: no matching function for call to 'f(int)'",
            "    3 |     f(1);",
            "/b/main.cpp:1:6: note: candidate: 'void f()'",
            "    1 | void f();",
        ]
        + [f"/b/main.cpp:{n}:1: warning: unused variable 'v{n}'" for n in range(10, 40)]
    )
    diagnostics = parse_compiler_output(output)
    assert len(diagnostics) == 20
    assert diagnostics[0].severity is Severity.ERROR
    assert "note: candidate: 'void f()'" in diagnostics[0].excerpt
    assert all(d.severity is Severity.WARNING for d in diagnostics[1:])


def test_error_in_header_or_bindings_maps_to_call(tmp_path: Path) -> None:
    py_source = textwrap.dedent(
        """\
        from torch.utils.cpp_extension import load_inline
        src = '''
        int twice(int x) { return 2 * x; }
        '''
        ext = load_inline("ext", src,
                          functions=["thrice"])
        """
    )
    build = tmp_path / "ext"
    build.mkdir()
    generated = "#include <torch/extension.h>\n\nint twice(int x) { return 2 * x; }\n\n"
    generated += 'PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {\nm.def("thrice", torch::wrap_pybind_function(thrice), "thrice");\n}'
    (build / "main.cpp").write_text(generated)
    header = CompilerDiagnostic(
        "/torch/include/c10/util/Exception.h", 40, 1, Severity.ERROR, "static assertion failed"
    )
    binding = CompilerDiagnostic(str(build / "main.cpp"), 6, 38, Severity.ERROR, "'thrice' was not declared")
    in_literal = CompilerDiagnostic(str(build / "main.cpp"), 3, 5, Severity.WARNING, "unused")
    header_message, binding_message, literal_message = map_to_python(
        [header, binding, in_literal], "user.py", py_source
    )
    assert header_message.location == Location("user.py", 5, 7, 6, 40)
    assert "Exception.h:40" in header_message.message
    assert binding_message.location is not None and binding_message.location.line == 6
    assert "functions=" in binding_message.hint
    assert literal_message.location == Location("user.py", 3, 5)
    assert literal_message.kind == "compile_warning"


def test_load_with_source_files_maps_to_call(tmp_path: Path) -> None:
    kernel = tmp_path / "kernel.cpp"
    kernel.write_text("int f() { return g(); }\n")
    py_source = "import torch.utils.cpp_extension as ce\n\next = ce.load(name='k', sources=['kernel.cpp'])\n"
    [message] = map_to_python(
        [CompilerDiagnostic(str(kernel), 1, 18, Severity.ERROR, "'g' was not declared in this scope")],
        "user.py",
        py_source,
    )
    assert message.location is not None and message.location.line == 3
    assert "kernel.cpp:1" in message.message


def test_build_failure_without_compiler_diagnostic_still_names_call(tmp_path: Path) -> None:
    py_file = tmp_path / "user.py"
    py_file.write_text(
        "from torch.utils.cpp_extension import load_inline\nx = 1\next = load_inline('e', '')\n"
    )
    [message] = messages_from_build_error(
        "Error building extension 'e': [2/2] c++ main.o -o e.so\nFAILED: e.so\n/usr/bin/ld: cannot find -lfoo\n",
        str(py_file),
    )
    assert message.location is not None and message.location.line == 3
    assert "Error building extension" in message.message
    assert "cannot find -lfoo" in message.detail


# --- Triton ---------------------------------------------------------------------------------------------------

triton = pytest.importorskip("triton")
TRITON_FILE = DATA / "triton_errors.py"


def load_module(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"user_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def compiled_module(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    return load_module(TRITON_FILE)


def compile_error(kernel: object) -> BaseException:
    """Run triton's real front end for a Hopper target; no GPU is needed to reach the AST errors."""
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    signature = {"x_ptr": "*fp32", "out_ptr": "*fp32", "n": "i32", "BLOCK": "constexpr"}
    source = ASTSource(kernel, signature=signature, constexprs={"BLOCK": 8})
    with pytest.raises(triton.compiler.errors.CompilationError) as raised:
        triton.compile(source, target=GPUTarget("cuda", 90, 32))
    return raised.value


@pytest.mark.parametrize("with_globals", [True, False])
def test_triton_compilation_error_maps_to_offending_line(
    compiled_module: ModuleType, with_globals: bool
) -> None:
    error = compile_error(compiled_module.bad_arange_kernel)
    location = triton_error_location(error, str(TRITON_FILE), vars(compiled_module) if with_globals else None)
    assert location is not None
    assert location.line == line_of(TRITON_FILE, "offsets = tl.arange(0, 3)")
    assert text_at(TRITON_FILE, location).startswith("tl.arange(0, 3)")


def test_triton_error_in_helper_points_at_helper(compiled_module: ModuleType) -> None:
    error = compile_error(compiled_module.calls_helper_kernel.fn)  # under the @triton.autotune wrapper
    location = triton_error_location(error, str(TRITON_FILE), vars(compiled_module))
    assert location is not None
    assert location.line == line_of(TRITON_FILE, "return x * undefined_factor")
    assert text_at(TRITON_FILE, location).startswith("undefined_factor")


def test_triton_interpreter_error_maps_to_offending_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    module = load_module(TRITON_FILE)
    with pytest.raises(Exception) as raised:  # the interpreter wraps the error in its own type
        module.ModelNew()(torch.zeros(8))
    location = triton_error_location(raised.value, str(TRITON_FILE), vars(module))
    assert location is not None
    assert location.line == line_of(TRITON_FILE, "offsets = tl.arange(0, 3)")
    assert text_at(TRITON_FILE, location).startswith("tl.arange(0, 3)")


def test_error_outside_module_file_has_no_location() -> None:
    try:
        raise ValueError("not from the user's file")
    except ValueError as error:
        assert triton_error_location(error, "/nowhere/user.py", None) is None


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_triton_error_on_gpu_launch_maps_to_offending_line(compiled_module: ModuleType) -> None:
    with pytest.raises(triton.compiler.errors.CompilationError) as raised:
        compiled_module.ModelNew()(torch.zeros(8, device="cuda"))
    location = triton_error_location(raised.value, str(TRITON_FILE), vars(compiled_module))
    assert location is not None
    assert location.line == line_of(TRITON_FILE, "offsets = tl.arange(0, 3)")


def test_without_build_call_or_generated_file_only_the_file_is_named(tmp_path: Path) -> None:
    missing = CompilerDiagnostic(
        str(tmp_path / "gone" / "main.cpp"), 2, 0, Severity.ERROR, "'x' was not declared"
    )
    [message] = map_to_python([missing], "user.py", "x = 1\n")
    assert message.location == Location("user.py")
