"""The daemon over stdio, against real worker processes: runs, results, diagnostics, code lenses, progress."""

from __future__ import annotations

from pathlib import Path

import pytest
from daemon_client import DATA, KernelEvalClient, started_marker, wait_until
from lsprotocol import types
from pygls.exceptions import JsonRpcException

ERROR = types.DiagnosticSeverity.Error


def errors(diagnostics: list[types.Diagnostic]) -> list[types.Diagnostic]:
    return [d for d in diagnostics if d.severity == ERROR]


async def test_initialize_advertises_kernel_eval(client: KernelEvalClient):
    capabilities = client.server_capabilities
    assert capabilities is not None
    assert capabilities.code_lens_provider is not None
    assert capabilities.execute_command_provider is not None
    assert set(capabilities.execute_command_provider.commands) == {
        "kernelEval.run",
        "kernelEval.clearCache",
        "kernelEval.setReference",
    }
    sync = capabilities.text_document_sync
    assert isinstance(sync, types.TextDocumentSyncOptions) and sync.save


async def test_run_reports_correct_result_progress_and_notifications(client: KernelEvalClient):
    ref = client.copy("model_add.py")
    custom = client.copy("model_new_add.py")

    result = await client.run(custom)

    assert result["verdict"] == "correct"
    assert result["ref"]["file"] == str(ref)
    assert result["custom"]["file"] == str(custom)
    assert result["device"] == "cpu"
    notified = await wait_until(lambda: client.results_for(custom), what="kernelEval/result")
    assert notified[-1]["verdict"] == "correct"
    phases = [n["phase"] for n in client.evaluating_for(custom)]
    assert phases[0] == "load" and "build" in phases and "check" in phases
    reports = [r for rs in client.progress_reports.values() for r in rs]
    assert isinstance(reports[0], types.WorkDoneProgressBegin) and reports[0].cancellable
    assert reports[0].title == "kernel-eval: model_new_add.py"
    messages = [r.message for r in reports if isinstance(r, types.WorkDoneProgressReport)]
    assert any(m.startswith("build: building") for m in messages)
    assert "check: correctness: 3 trials (1 on a secret seed)" in messages
    assert isinstance(reports[-1], types.WorkDoneProgressEnd) and reports[-1].message == "✓ correct"
    assert not errors(client.diagnostics_for(custom))


async def test_timing_is_measured_when_enabled(client: KernelEvalClient):
    client.copy("model_add.py")
    custom = client.copy("model_new_add.py")
    client.set_settings(measurePerformance=True, numPerfTrials=12)

    result = await client.run(custom)

    assert result["verdict"] == "correct"
    assert result["timing"]["custom"]["trials"] >= 12 and result["timing"]["speedup"] > 0
    [lens] = await client.code_lenses(custom)
    assert (
        lens.command is not None
        and lens.command.title.startswith("✓ correct · ")
        and " ms vs " in lens.command.title
    )


async def test_wrong_kernel_diagnostic_on_forward_line_then_cleared_when_fixed(client: KernelEvalClient):
    client.copy("model_add.py")
    custom = client.copy("model_new_add_wrong.py", "model_new_add.py")

    result = await client.run(custom)

    assert result["verdict"] == "incorrect"
    [diagnostic] = errors(client.diagnostics_for(custom))
    assert diagnostic.source == "kernel-eval"
    assert diagnostic.range.start.line == 4  # `def forward` (1-based line 5)
    assert "further from the float64 answer" in diagnostic.message and "worst at" in diagnostic.message
    assert "seed" in diagnostic.message

    client.save(custom, (DATA / "model_new_add.py").read_text())
    await wait_until(lambda: client.results_for(custom)[1:], what="the result after the fix")
    assert client.results_for(custom)[-1]["verdict"] == "correct"
    assert not errors(client.diagnostics_for(custom))


async def test_syntax_error_at_its_line(client: KernelEvalClient):
    client.copy("model_add.py")
    custom = client.copy("model_new_add_syntax.py", "model_new_add.py")

    result = await client.run(custom)

    assert result["verdict"] == "error"
    [diagnostic] = errors(client.diagnostics_for(custom))
    assert diagnostic.range.start.line == 6  # `return torch.add(a, b` (line 7)
    assert "SyntaxError" in diagnostic.message
    assert diagnostic.code == "syntax_error"


async def test_triton_error_at_its_line(client: KernelEvalClient):
    pytest.importorskip("triton")
    client.copy("model_add.py")
    custom = client.copy("model_new_add_triton_error.py", "model_new_add.py")

    result = await client.run(custom)

    assert result["verdict"] == "error"
    [diagnostic] = errors(client.diagnostics_for(custom))
    assert diagnostic.range.start.line == 8  # the tl.arange(0, 3) line (line 9)
    assert "power of 2" in diagnostic.message


async def test_cpp_compile_error_mapped_to_the_py_line(client: KernelEvalClient):
    client.copy("model_add.py")
    custom = client.copy("model_new_add_cpp_error.py", "model_new_add.py")

    result = await client.run(custom)

    assert result["verdict"] == "error"
    [diagnostic] = errors(client.diagnostics_for(custom))
    assert diagnostic.range.start.line == 8  # `undeclared_helper(out);` inside the string literal (line 9)
    assert "undeclared_helper" in diagnostic.message
    assert diagnostic.code == "compile_error"


async def test_code_lens_before_during_and_after(client: KernelEvalClient):
    client.copy("model_add.py")
    custom = client.copy("model_new_add.py")
    slow = client.copy("model_new_add_slow.py")

    [before] = await client.code_lenses(custom)
    assert before.range.start.line == 4  # class ModelNew (line 5)
    assert before.command is not None
    assert before.command.title == "Evaluate kernel"
    assert before.command.command == "kernelEval.run" and list(before.command.arguments or []) == [
        custom.as_uri()
    ]

    await client.run(custom)
    [after] = await client.code_lenses(custom)
    assert after.command is not None and after.command.title == "✓ correct"
    assert client.code_lens_refreshes >= 2  # when the evaluation started and when its result landed

    client.save(slow)
    await wait_until(lambda: started_marker(slow), what="the slow kernel to start")
    [during] = await client.code_lenses(slow)
    assert during.command is not None and during.command.title == "⏳ evaluating…"


async def test_no_reference_is_an_error_with_instructions(client: KernelEvalClient):
    lonely = client.copy("model_new_add.py", "my_kernel.py")

    with pytest.raises(JsonRpcException) as failure:
        await client.run(lonely)

    assert failure.value.code == -32803
    assert "# kernel-eval: ref=" in failure.value.message
    [diagnostic] = client.diagnostics_for(lonely)
    assert diagnostic.range.start.line == 0 and "pyproject.toml" in diagnostic.message


async def test_open_kernel_file_without_reference_gets_a_hint_but_plain_files_do_not(
    client: KernelEvalClient,
):
    kernel = client.copy("model_new_add.py", "my_kernel.py")
    plain_module = client.workspace / "helpers.py"
    plain_module.write_text("def helper():\n    return 1\n")

    client.open(kernel)
    client.open(plain_module)
    await wait_until(lambda: kernel.as_uri() in client.diagnostics, what="the no-reference diagnostic")

    assert "kernel-eval: ref=" in client.diagnostics_for(kernel)[0].message
    assert plain_module.as_uri() not in client.diagnostics


async def test_execute_command_run_and_set_reference(client: KernelEvalClient):
    reference = client.copy("model_add.py", "reference_impl.py")
    custom = client.copy("model_new_add.py", "fast_add.py")

    remembered = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(
            command="kernelEval.setReference", arguments=[custom.as_uri(), reference.as_uri(), "Model"]
        )
    )
    result = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="kernelEval.run", arguments=[custom.as_uri()])
    )

    assert remembered["ref"] == str(reference)
    assert result["verdict"] == "correct"
    assert result["ref"]["file"] == str(reference)


async def test_clear_cache_command_returns_removed_folders(client: KernelEvalClient):
    client.copy("model_add.py")
    custom = client.copy("model_new_add.py")

    removed = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="kernelEval.clearCache", arguments=[custom.as_uri()])
    )

    assert isinstance(removed, list)


async def test_prints_at_import_and_in_forward_do_not_corrupt_the_stream(client: KernelEvalClient):
    client.copy("model_add.py")
    custom = client.copy("model_new_add_prints.py", "model_new_add.py")

    result = await client.run(custom)
    again = await client.run(custom)

    assert result["verdict"] == "correct" and again["verdict"] == "correct"
    assert client.error is None
    assert "hello from forward" in result["captured_output"]["custom"]


async def test_evaluate_on_save_can_be_switched_off_without_restarting_workers(client: KernelEvalClient):
    client.copy("model_add.py")
    custom = client.copy("model_new_add.py")
    await client.run(custom)
    client.set_settings(evaluateOnSave=False)

    client.save(custom)
    client.save(custom)

    with pytest.raises(AssertionError):
        await wait_until(lambda: client.results_for(custom)[1:], timeout=1.5)
    started = len(client.evaluating_for(custom))
    client.set_settings(evaluateOnSave=True)
    client.save(custom)
    await wait_until(lambda: client.results_for(custom)[1:], what="evaluation on save")
    assert len(client.evaluating_for(custom)) > started


async def test_each_reference_rule_through_the_daemon(client: KernelEvalClient):
    ws = client.workspace
    correct = (DATA / "model_new_add.py").read_text()

    def layout(folder: str, custom_name: str, custom_text: str, ref_name: str) -> tuple[Path, Path]:
        (ws / folder).mkdir(parents=True)
        custom = ws / folder / custom_name
        custom.write_text(custom_text)
        return custom, client.copy("model_add.py", ref_name, ws / folder)

    by_directive = layout(
        "directive", "fast.py", "# kernel-eval: ref=slow.py entry=Model\n" + correct, "slow.py"
    )
    by_memory = layout("memory", "fast.py", correct, "chosen.py")
    by_settings = layout("settings", "fast_kernel.py", correct, "baseline.py")
    by_naming = layout("naming", "model_new_add.py", correct, "model_add.py")
    by_explicit = layout("explicit", "fast.py", correct, "anything.py")
    project = ws / "project"
    by_pyproject = layout("project/kernels", "fast.py", correct, "../ref.py")
    (project / "pyproject.toml").write_text(
        '[[tool.kernel-eval.references]]\ncustom = "kernels/*.py"\nref = "ref.py"\n'
    )
    by_pyproject = (by_pyproject[0], project / "ref.py")

    client.set_settings(
        references={"settings/*_kernel.py": {"ref": "settings/baseline.py", "refEntryPoint": "Model"}}
    )
    await client.workspace_execute_command_async(
        types.ExecuteCommandParams(
            command="kernelEval.setReference", arguments=[by_memory[0].as_uri(), by_memory[1].as_uri()]
        )
    )

    for custom, ref in (by_directive, by_memory, by_pyproject, by_settings, by_naming):
        result = await client.run(custom)
        assert (result["verdict"], result["ref"]["file"]) == ("correct", str(ref.resolve())), custom
    explicit = await client.run(by_explicit[0], refUri=by_explicit[1].as_uri(), refEntryPoint="Model")
    assert explicit["ref"]["file"] == str(by_explicit[1])


async def test_settings_changes_reach_the_warm_workers_without_restarting_them(client: KernelEvalClient):
    client.copy("model_add.py")
    custom = client.copy("model_new_add_pid.py", "model_new_add.py")
    before = await client.run(custom)

    client.set_settings(numCorrectTrials=3, atol=1e-3, rtol=1e-3, measurePerformance=True, numPerfTrials=10)
    after = await client.run(custom)

    assert after["correctness"]["num_trials"] == 4 and after["timing"] is not None  # 3 asked + 1 secret
    pids = {
        line for r in (before, after) for line in r["captured_output"]["custom"].splitlines() if "pid" in line
    }
    assert len(pids) == 1, pids  # the same candidate process answered both


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({}, "customUri"),
        ({"customUri": "untitled:Untitled-1"}, "save it first"),
        ({"customUri": "file:///k.py", "numPerfTrials": "many"}, "numPerfTrials"),
    ],
)
async def test_bad_run_params_are_invalid_params(client: KernelEvalClient, params: dict, says: str):
    with pytest.raises(JsonRpcException) as failure:
        await client.protocol.send_request_async("kernelEval/run", params)

    assert failure.value.code == -32602
    assert says in failure.value.message
