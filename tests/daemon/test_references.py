"""Finding the reference: each rule on its own (unit), their order, and bad configurations."""

from __future__ import annotations

from pathlib import Path

import pytest

from kernel_eval.references import (
    ReferenceProblem,
    ReferenceRule,
    find_reference,
    glob_matches,
    looks_like_kernel_file,
    naming_candidates,
    parse_directive,
)

KERNEL = "import torch.nn as nn\n\n\nclass ModelNew(nn.Module):\n    pass\n"


def write(path: Path, text: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_directive_comment_names_the_reference_relative_to_the_file(tmp_path: Path):
    ref = write(tmp_path / "refs" / "softmax.py")
    text = "# kernel-eval: ref=../refs/softmax.py entry=Softmax custom_entry=FastSoftmax\n" + KERNEL
    custom = write(tmp_path / "kernels" / "fast.py", text)

    match = find_reference(custom, text)

    assert match is not None and match.rule == "directive"
    assert match.ref_path == ref
    assert (match.ref_entry_point, match.custom_entry_point) == ("Softmax", "FastSoftmax")


def test_directive_naming_a_missing_file_says_where_it_looked(tmp_path: Path):
    text = "import torch\n# kernel-eval: ref=nowhere.py\n" + KERNEL
    custom = write(tmp_path / "fast.py", text)

    with pytest.raises(ReferenceProblem) as problem:
        find_reference(custom, text)

    assert problem.value.line == 2
    assert str(tmp_path / "nowhere.py") in str(problem.value) and "relative to this file" in str(
        problem.value
    )


def test_directive_without_ref_is_reported():
    assert parse_directive("# kernel-eval: entry=Model\n") == (1, {"entry": "Model"})
    with pytest.raises(ReferenceProblem, match="names no reference"):
        find_reference(Path("/tmp/x.py"), "# kernel-eval: entry=Model\n")


def test_remembered_reference_comes_after_the_directive(tmp_path: Path):
    directive_ref = write(tmp_path / "a.py")
    remembered_ref = write(tmp_path / "b.py")
    custom = write(tmp_path / "model_new_x.py", KERNEL)
    write(tmp_path / "model_x.py")
    remembered = {
        custom.resolve(): ReferenceRule(custom_glob="", ref=str(remembered_ref), ref_entry_point="Ref")
    }

    plain = find_reference(custom, KERNEL, remembered=remembered)
    with_directive = find_reference(custom, "# kernel-eval: ref=a.py\n" + KERNEL, remembered=remembered)

    assert plain is not None and plain.rule == "remembered" and plain.ref_path == remembered_ref
    assert plain.ref_entry_point == "Ref"
    assert with_directive is not None and with_directive.ref_path == directive_ref


def test_pyproject_table_found_by_walking_up(tmp_path: Path):
    write(
        tmp_path / "pyproject.toml",
        '[project]\nname = "x"\n\n[[tool.kernel-eval.references]]\ncustom = "kernels/**/*_fast.py"\n'
        'ref = "reference/matmul.py"\nref_entry_point = "MatMul"\ncustom_entry_point = "FastMatMul"\n',
    )
    ref = write(tmp_path / "reference" / "matmul.py")
    custom = write(tmp_path / "kernels" / "v2" / "matmul_fast.py", KERNEL)
    other = write(tmp_path / "kernels" / "v2" / "matmul_slow.py", KERNEL)

    match = find_reference(custom, KERNEL)

    assert match is not None and match.rule == "pyproject" and match.ref_path == ref
    assert (match.ref_entry_point, match.custom_entry_point) == ("MatMul", "FastMatMul")
    assert find_reference(other, KERNEL) is None


def test_pyproject_wins_over_settings_and_naming(tmp_path: Path):
    write(tmp_path / "pyproject.toml", '[[tool.kernel-eval.references]]\ncustom = "*.py"\nref = "ref.py"\n')
    ref = write(tmp_path / "ref.py")
    write(tmp_path / "model_k.py")
    write(tmp_path / "other.py")
    custom = write(tmp_path / "model_new_k.py", KERNEL)
    rules = [ReferenceRule(custom_glob="*.py", ref="other.py")]

    match = find_reference(custom, KERNEL, settings_rules=rules, workspace_root=tmp_path)

    assert match is not None and match.ref_path == ref


def test_broken_pyproject_entry_is_reported(tmp_path: Path):
    write(tmp_path / "pyproject.toml", '[[tool.kernel-eval.references]]\ncustom = "*.py"\n')
    custom = write(tmp_path / "k.py", KERNEL)

    with pytest.raises(ReferenceProblem, match="needs string keys"):
        find_reference(custom, KERNEL)


def test_settings_rules_are_relative_to_the_workspace(tmp_path: Path):
    ref = write(tmp_path / "refs" / "conv.py")
    custom = write(tmp_path / "src" / "conv_kernel.py", KERNEL)
    rules = [
        ReferenceRule(custom_glob="src/other_*.py", ref="refs/none.py"),
        ReferenceRule(custom_glob="src/*_kernel.py", ref="refs/conv.py", ref_entry_point="Conv"),
    ]

    match = find_reference(custom, KERNEL, settings_rules=rules, workspace_root=tmp_path)

    assert match is not None and match.rule == "settings" and match.ref_path == ref
    assert match.ref_entry_point == "Conv"


def test_settings_rule_naming_a_missing_reference_is_reported(tmp_path: Path):
    custom = write(tmp_path / "k.py", KERNEL)

    with pytest.raises(ReferenceProblem, match="does not exist"):
        find_reference(
            custom, KERNEL, settings_rules=[ReferenceRule("k.py", "gone.py")], workspace_root=tmp_path
        )


@pytest.mark.parametrize(
    ("custom", "reference"),
    [
        ("model_new_add.py", "model_add.py"),
        ("model_new_ex_add.py", "model_ex_add.py"),
        ("model_new_add.py", "model_ex_add.py"),
        ("model_new_ex_add_illegal.py", "model_ex_add.py"),
        ("softmax_triton.py", "softmax_code.py"),
        ("layernorm_new.py", "layernorm.py"),
    ],
)
def test_naming_conventions(tmp_path: Path, custom: str, reference: str):
    ref = write(tmp_path / reference)
    path = write(tmp_path / custom, KERNEL)

    match = find_reference(path, KERNEL)

    assert match is not None and match.rule == "naming" and match.ref_path == ref


def test_naming_prefers_the_exact_name():
    assert naming_candidates(Path("/k/model_new_ex_add.py"))[:2] == [
        Path("/k/model_ex_add.py"),
        Path("/k/model_ex_ex_add.py"),
    ]


def test_repository_cuda_examples_find_their_reference():
    data = Path(__file__).resolve().parents[1] / "test_data" / "cuda"
    for custom in data.glob("model_new_ex_add*.py"):
        match = find_reference(custom, custom.read_text())
        assert match is not None and match.ref_path == (data / "model_ex_add.py").resolve()


def test_no_rule_matches(tmp_path: Path):
    custom = write(tmp_path / "kernel.py", KERNEL)
    assert find_reference(custom, KERNEL) is None


def test_globs():
    root = Path("/w")
    assert glob_matches("kernels/*.py", Path("/w/kernels/a.py"), root)
    assert not glob_matches("kernels/*.py", Path("/w/kernels/sub/a.py"), root)
    assert glob_matches("kernels/**/*.py", Path("/w/kernels/sub/a.py"), root)
    assert glob_matches("kernels/**/*.py", Path("/w/kernels/a.py"), root)
    assert glob_matches("model_new_*.py", Path("/w/deep/er/model_new_x.py"), root)
    assert glob_matches("./a?.py", Path("/w/ab.py"), root)
    assert not glob_matches("*.py", Path("/elsewhere/a.py"), root)


def test_kernel_files_are_recognised():
    assert looks_like_kernel_file(KERNEL)
    assert looks_like_kernel_file("from torch.utils.cpp_extension import load_inline\n")
    assert looks_like_kernel_file("import triton\n@triton.jit\ndef k(x):\n    pass\n")
    assert not looks_like_kernel_file("import torch\n\ndef helper():\n    return 1\n")
