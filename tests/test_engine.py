"""The engine end to end through the WorkerPool API: one warm pool, real worker processes, real files.

Each case is a pair in tests/test_data/cpu (model_X.py / model_new_X.py); the bad ones carry a marker comment
on the line a user must be sent to.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from cases import cpu_case

from kernel_eval.engine.pool import WorkerPool
from kernel_eval.request import EvalRequest
from kernel_eval.result import (
    Backend,
    EvalResult,
    Message,
    OutputComparison,
    Phase,
    ProtectionState,
    SandboxMode,
    Severity,
    Verdict,
)
from kernel_eval.sandbox import landlock

DATA = Path(__file__).resolve().parent / "test_data"
CPU = DATA / "cpu"
CUDA = DATA / "cuda"


def line_of(path: Path, marker: str) -> int:
    """1-based line of the first line of `path` containing `marker`."""
    for number, text in enumerate(path.read_text().splitlines(), start=1):
        if marker in text:
            return number
    raise AssertionError(f"{marker!r} not in {path}")


def same_file(a: str, b: Path) -> bool:
    return Path(a).resolve() == b.resolve()


def evaluate_pair(
    pool: WorkerPool,
    build_prefix: Path,
    ref: Path,
    custom: Path,
    **options: object,
) -> EvalResult:
    options.setdefault("device", "cpu")
    options.setdefault("timeout_s", 120.0)
    request = EvalRequest(
        ref_src=str(ref),
        custom_src=str(custom),
        build_dir_prefix=str(build_prefix),
        **options,  # type: ignore[arg-type]
    )
    return pool.evaluate(request)


def evaluate(pool: WorkerPool, build_prefix: Path, case: str, **options: object) -> EvalResult:
    return evaluate_pair(pool, build_prefix, *cpu_case(case), **options)


def only_error(result: EvalResult, kind: str) -> Message:
    assert result.verdict is Verdict.ERROR, result.headline
    assert result.exit_code == 2
    errors = result.errors
    assert [m.kind for m in errors] == [kind], [(m.kind, m.message) for m in result.messages]
    assert "Traceback (most recent call last)" not in errors[0].message
    return errors[0]


def failing_outputs(result: EvalResult) -> list[OutputComparison]:
    assert result.verdict is Verdict.INCORRECT, result.headline
    assert result.exit_code == 1
    assert result.correctness is not None
    failing = result.correctness.first_failure
    assert failing is not None
    return [o for o in failing.outputs if not o.passed]


def assert_correct(result: EvalResult) -> None:
    assert result.verdict is Verdict.CORRECT, (result.headline, result.messages)
    assert result.exit_code == 0
    assert result.phase is Phase.DONE
    assert result.correctness is not None
    assert result.correctness.num_passed == result.correctness.num_trials >= 1


# --- correct pairs -------------------------------------------------------------------------------------------


def test_triton_kernel_runs_through_the_interpreter_on_cpu(pool: WorkerPool, build_prefix: Path) -> None:
    result = evaluate(pool, build_prefix, "add", num_correct_trials=3)

    assert_correct(result)
    assert result.backend is Backend.TRITON
    assert result.device == "cpu"
    assert result.correctness is not None
    assert result.correctness.num_trials == 4 and result.correctness.num_secret_trials == 1
    seeds = [t.seed for t in result.correctness.trials]
    assert len(set(seeds)) == 4, f"each trial needs fresh inputs from its own seed, got {seeds}"
    assert [t.secret for t in result.correctness.trials] == [False, False, False, True]
    assert result.timing is None
    assert same_file(result.custom.file, CPU / "model_new_add.py")
    assert result.custom.class_line == line_of(CPU / "model_new_add.py", "class ModelNew")


def test_result_survives_a_json_round_trip(pool: WorkerPool, build_prefix: Path) -> None:
    result = evaluate(pool, build_prefix, "add", measure_performance=True)

    assert EvalResult.from_dict(json.loads(result.to_json())) == result


def test_pure_pytorch_custom_module(pool: WorkerPool, build_prefix: Path) -> None:
    result = evaluate(pool, build_prefix, "gelu")

    assert_correct(result)
    assert result.backend is Backend.PYTORCH


def test_cpu_timing_is_labelled_not_meaningful_and_never_uses_fewer_than_10_trials(
    pool: WorkerPool, build_prefix: Path
) -> None:
    result = evaluate(pool, build_prefix, "add", measure_performance=True, num_perf_trials=3)

    assert_correct(result)
    assert result.timing is not None
    assert result.timing.meaningful is False
    assert result.timing.reference.trials >= 10
    assert result.timing.custom.trials >= 10
    assert result.timing.speedup > 0
    assert result.timing.speedup == pytest.approx(
        result.timing.reference.median_ms / result.timing.custom.median_ms, rel=1e-3
    )
    assert any(m.kind == "timing" for m in result.messages), "raising 3 trials to 10 must be said"
    assert list(result.phase_s) == ["load", "build", "check", "time"]  # where the wall time went, in order
    assert 0 < sum(result.phase_s.values()) <= result.duration_s


def test_nested_tuple_output_is_compared_leaf_by_leaf(pool: WorkerPool, build_prefix: Path) -> None:
    result = evaluate(pool, build_prefix, "tuple")

    assert_correct(result)
    assert result.correctness is not None
    paths = {o.path for o in result.correctness.trials[0].outputs}
    assert {"output[0]", "output[1][0]", "output[1][1]"} <= paths


def test_wrong_leaf_of_a_tuple_output_is_named(pool: WorkerPool, build_prefix: Path) -> None:
    [bad] = failing_outputs(evaluate(pool, build_prefix, "tuple_wrong"))

    assert bad.path == "output[1][1]"
    assert bad.reason == "values"
    assert bad.mismatch_count > 0
    assert bad.max_abs_error > 0


def test_dict_output(pool: WorkerPool, build_prefix: Path) -> None:
    result = evaluate(pool, build_prefix, "dict")

    assert_correct(result)
    assert result.correctness is not None
    paths = {o.path for o in result.correctness.trials[0].outputs}
    assert {"output['sum']", "output['max']"} <= paths


def test_wrong_leaf_of_a_dict_output_is_named(pool: WorkerPool, build_prefix: Path) -> None:
    [bad] = failing_outputs(evaluate(pool, build_prefix, "dict_wrong"))

    assert bad.path == "output['max']"
    assert bad.reason == "values"


def test_init_inputs_in_args_kwargs_form(pool: WorkerPool, build_prefix: Path) -> None:
    assert_correct(evaluate(pool, build_prefix, "args_kwargs"))


def test_reference_state_dict_is_loaded_when_names_match(pool: WorkerPool, build_prefix: Path) -> None:
    # ModelNew re-initialises its weights; it can only match if the engine copies the reference's state_dict.
    assert_correct(evaluate(pool, build_prefix, "state_dict"))


def test_same_seed_construction_when_names_differ_is_stated(pool: WorkerPool, build_prefix: Path) -> None:
    result = evaluate(pool, build_prefix, "same_seed")

    assert_correct(result)
    notes = [m for m in result.messages if m.kind == "weights"]
    assert notes, result.messages
    assert notes[0].severity is Severity.INFO


def test_looser_tolerance_turns_a_small_error_correct(pool: WorkerPool, build_prefix: Path) -> None:
    [bad] = failing_outputs(evaluate(pool, build_prefix, "gelu_tanh"))
    assert bad.atol == pytest.approx(1e-4)
    assert bad.rtol == pytest.approx(1e-4)
    assert 1e-4 < bad.max_abs_error < 1e-2

    assert_correct(evaluate(pool, build_prefix, "gelu_tanh", atol=1e-2, rtol=1e-2))


# --- wrong outputs -------------------------------------------------------------------------------------------


def test_wrong_shape(pool: WorkerPool, build_prefix: Path) -> None:
    [bad] = failing_outputs(evaluate(pool, build_prefix, "wrong_shape"))

    assert bad.reason == "shape"
    assert bad.ref_shape == [256, 256]
    assert bad.custom_shape == [256 * 256]


def test_wrong_dtype(pool: WorkerPool, build_prefix: Path) -> None:
    [bad] = failing_outputs(evaluate(pool, build_prefix, "wrong_dtype"))

    assert bad.reason == "dtype"
    assert "float32" in bad.ref_dtype
    assert "float64" in bad.custom_dtype


def test_nan_where_the_reference_is_finite(pool: WorkerPool, build_prefix: Path) -> None:
    [bad] = failing_outputs(evaluate(pool, build_prefix, "nan"))

    assert bad.reason == "nan"
    assert bad.mismatch_count == 1
    assert bad.worst_index == [3, 5]


# --- files that do not load ----------------------------------------------------------------------------------


def test_syntax_error_points_at_the_line(pool: WorkerPool, build_prefix: Path) -> None:
    custom = CPU / "model_new_syntax_error.py"
    error = only_error(evaluate(pool, build_prefix, "syntax_error"), "syntax_error")

    assert error.phase is Phase.LOAD
    assert error.location is not None
    assert same_file(error.location.file, custom)
    assert error.location.line == line_of(custom, "syntax error on purpose")


def test_missing_entry_point_is_named(pool: WorkerPool, build_prefix: Path) -> None:
    custom = CPU / "model_new_missing_class.py"
    error = only_error(evaluate(pool, build_prefix, "missing_class"), "missing_entry_point")

    assert error.phase is Phase.LOAD
    assert "ModelNew" in error.message
    assert error.location is not None
    assert same_file(error.location.file, custom)


def test_reference_without_get_inputs(pool: WorkerPool, build_prefix: Path) -> None:
    error = only_error(evaluate(pool, build_prefix, "no_inputs"), "missing_function")

    assert "get_inputs" in error.message
    assert error.location is not None
    assert same_file(error.location.file, CPU / "model_no_inputs.py")


def test_import_error_points_at_the_import(pool: WorkerPool, build_prefix: Path) -> None:
    custom = CPU / "model_new_import_error.py"
    error = only_error(evaluate(pool, build_prefix, "import_error"), "import_error")

    assert error.phase is Phase.LOAD
    assert "fused_kernels_that_are_not_installed" in error.message
    assert error.location is not None
    assert same_file(error.location.file, custom)
    assert error.location.line == line_of(custom, "import error on purpose")


def test_runtime_error_in_forward_points_at_the_line(pool: WorkerPool, build_prefix: Path) -> None:
    custom = CPU / "model_new_runtime_error.py"
    error = only_error(evaluate(pool, build_prefix, "runtime_error"), "runtime_error")

    assert error.phase is Phase.CHECK
    assert "must match" in error.message
    assert error.location is not None
    assert same_file(error.location.file, custom)
    assert error.location.line == line_of(custom, "runtime error on purpose")


def test_edited_file_is_reloaded_by_the_warm_worker(
    pool: WorkerPool, build_prefix: Path, tmp_path: Path
) -> None:
    custom = tmp_path / "model_new_add.py"
    source = (CPU / "model_new_add.py").read_text()
    custom.write_text(source)
    assert_correct(evaluate_pair(pool, build_prefix, CPU / "model_add.py", custom))

    custom.write_text(source.replace("a + b, mask=mask", "a - b, mask=mask"))
    failing_outputs(evaluate_pair(pool, build_prefix, CPU / "model_add.py", custom))


# --- code that takes its worker down -------------------------------------------------------------------------


def test_hang_times_out_and_the_next_evaluation_succeeds(pool: WorkerPool, build_prefix: Path) -> None:
    custom = CPU / "model_new_hang.py"
    started = time.monotonic()
    error = only_error(evaluate(pool, build_prefix, "hang", timeout_s=3.0), "timeout")
    elapsed = time.monotonic() - started

    assert elapsed < 60, f"a 3 s timeout took {elapsed:.1f} s to report"
    assert error.location is not None
    assert same_file(error.location.file, custom)
    loop = line_of(custom, "hangs on purpose")
    assert error.location.line in (loop, loop + 1), "the timeout names the line the code was stuck on"
    assert_correct(evaluate(pool, build_prefix, "add"))


def test_segfault_is_a_crash_and_the_replacement_worker_evaluates(
    pool: WorkerPool, build_prefix: Path
) -> None:
    error = only_error(evaluate(pool, build_prefix, "segfault"), "crash")

    assert error.phase is Phase.CHECK
    assert "SIGSEGV" in error.message or "signal 11" in error.message
    assert error.location is not None
    assert same_file(error.location.file, CPU / "model_new_segfault.py")
    assert_correct(evaluate(pool, build_prefix, "add"))


def test_sys_exit_in_forward(pool: WorkerPool, build_prefix: Path) -> None:
    custom = CPU / "model_new_sys_exit.py"
    error = only_error(evaluate(pool, build_prefix, "sys_exit"), "system_exit")

    assert "3" in error.message + error.hint
    assert error.location is not None
    assert error.location.line == line_of(custom, "exits on purpose")
    assert_correct(evaluate(pool, build_prefix, "add"))


def test_what_user_code_prints_is_captured(pool: WorkerPool, build_prefix: Path) -> None:
    result = evaluate(pool, build_prefix, "prints")

    assert_correct(result)
    captured = result.captured_output["custom"]
    assert "custom module: print at import" in captured
    assert "custom forward: print in forward" in captured
    assert "custom forward: print to stderr" in captured
    assert "custom forward: raw write to fd 1" in captured
    assert "custom forward" not in result.captured_output.get("reference", "")


# --- state one file leaves in its worker ---------------------------------------------------------------------


def test_state_a_file_leaves_in_its_worker_cannot_fail_the_next_file(
    pool: WorkerPool, build_prefix: Path
) -> None:
    assert_correct(evaluate(pool, build_prefix, "patches_torch"))  # correct, but torch.erf stays patched

    assert_correct(evaluate(pool, build_prefix, "gelu"))  # another file: a candidate no user code has run in
    warm = pool.worker_pids
    assert_correct(evaluate(pool, build_prefix, "gelu"))
    assert pool.worker_pids == warm, "the same file again is evaluated by the same warm workers"


def test_a_pool_with_several_spares_gives_each_new_file_a_process_already_started(build_prefix: Path) -> None:
    with WorkerPool(spares=2) as batch_pool:
        assert_correct(evaluate(batch_pool, build_prefix, "add"))
        _, first_candidate, *spares = batch_pool.worker_pids
        assert len(spares) == 2

        assert_correct(evaluate(batch_pool, build_prefix, "patches_torch"))
        _, second_candidate, *new_spares = batch_pool.worker_pids
        assert_correct(evaluate(batch_pool, build_prefix, "gelu"))  # correct after a file that patched torch
        _, third_candidate, *_ = batch_pool.worker_pids

    assert second_candidate == spares[0] and third_candidate == new_spares[0]  # the oldest spare takes over
    assert (
        first_candidate not in new_spares and len(new_spares) == 2
    )  # a file's candidate is not kept for another


# --- extensions ----------------------------------------------------------------------------------------------


def test_cpp_extension_is_built_and_evaluated_on_cpu(pool: WorkerPool, build_prefix: Path) -> None:
    result = evaluate(pool, build_prefix, "cpp_add", timeout_s=120.0)

    assert_correct(result)
    assert result.backend is Backend.CPP_EXTENSION
    assert result.cache_dir
    assert Path(result.cache_dir).is_dir()
    assert Path(result.cache_dir).resolve().is_relative_to(build_prefix.resolve())
    assert any(Path(result.cache_dir).rglob("*.so")), "the extension is built inside the key's cache dir"
    assert result.sandbox is not None and result.sandbox.mode is SandboxMode.AUTO  # built and run confined
    if landlock.abi_version():
        filesystem = next(p for p in result.sandbox.protections if p.name == "filesystem")
        assert filesystem.state is ProtectionState.ON and result.cache_dir in filesystem.detail


def test_cuda_extension_on_cpu_needs_a_gpu(pool: WorkerPool, build_prefix: Path) -> None:
    result = evaluate_pair(pool, build_prefix, CUDA / "model_ex_add.py", CUDA / "model_new_ex_add.py")

    error = only_error(result, "cuda_unavailable")
    assert "needs a CUDA GPU" in error.message
    assert result.backend is Backend.CUDA_EXTENSION


# --- GPU -----------------------------------------------------------------------------------------------------


@pytest.mark.gpu
def test_gpu_cuda_extension_is_correct_and_timed(pool: WorkerPool, build_prefix: Path) -> None:
    result = evaluate_pair(
        pool,
        build_prefix,
        CUDA / "model_ex_add.py",
        CUDA / "model_new_ex_add.py",
        device="cuda:0",
        measure_performance=True,
    )

    assert_correct(result)
    assert result.backend is Backend.CUDA_EXTENSION
    assert result.timing is not None
    assert result.timing.meaningful is True
    assert result.timing.speedup > 0
    assert result.gpu_name


@pytest.mark.gpu
def test_gpu_illegal_memory_access_then_a_good_evaluation(pool: WorkerPool, build_prefix: Path) -> None:
    result = evaluate_pair(
        pool, build_prefix, CUDA / "model_ex_add.py", CUDA / "model_new_ex_add_illegal.py", device="cuda:0"
    )

    assert result.verdict is Verdict.ERROR, result.headline
    assert result.exit_code == 2
    [error] = result.errors
    assert error.phase is Phase.CHECK
    assert "illegal memory access" in (error.message + error.detail).lower()
    assert "Traceback (most recent call last)" not in error.message

    good = evaluate_pair(
        pool, build_prefix, CUDA / "model_ex_add.py", CUDA / "model_new_ex_add.py", device="cuda:0"
    )
    assert_correct(good)


@pytest.mark.gpu
def test_gpu_cuda_compile_error_shows_the_compiler_message(pool: WorkerPool, build_prefix: Path) -> None:
    custom = CUDA / "model_new_ex_add_compile_error.py"
    result = evaluate_pair(pool, build_prefix, CUDA / "model_ex_add.py", custom, device="cuda:0")

    assert result.verdict is Verdict.ERROR, result.headline
    assert result.exit_code == 2
    assert result.errors, result.messages
    assert {m.kind for m in result.errors} == {"compile_error"}
    error = result.errors[0]
    assert error.phase is Phase.BUILD
    assert "expected an expression" in error.message + error.detail
    assert error.location is not None
    assert same_file(error.location.file, custom)
    assert error.location.line == line_of(custom, "syntax error on purpose")
