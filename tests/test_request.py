"""EvalRequest is the one source of truth for options: the CLI, the daemon's settings, kernelEval/run params and
the extension's contributed settings are held to its fields (names and defaults)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import attrs

from kernel_eval.cli import Options
from kernel_eval.lsp.methods import RunParams
from kernel_eval.lsp.settings import Settings, parse_settings
from kernel_eval.request import EvalRequest, options_for

PACKAGE_JSON = Path(__file__).resolve().parents[1] / "vscode-extension" / "package.json"
CLI_ONLY = {"json", "no_server"}  # output format and where it runs, not part of what is evaluated
CLI_DEFAULTS = {"device": "cuda:0"}  # the CLI asks for the GPU and falls back to the CPU with a note
EDITOR_DEFAULTS = {"measure_performance": True}  # the editor times on every save


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(word.title() for word in rest)


def test_cli_options_are_the_request_fields_marked_cli():
    fields = {f.name: f for f in dataclasses.fields(Options)}
    assert set(fields) - CLI_ONLY == set(options_for("cli"))
    for option, field in options_for("cli").items():
        if field.default is not attrs.NOTHING:
            assert fields[option].default == CLI_DEFAULTS.get(option, field.default), option


def test_cli_options_become_the_request():
    options = Options(ref_src="r.py", custom_src="c.py", timeout=7.0, build_timeout=9.0, num_correct_trials=3)
    request = options.to_request()
    assert (request.timeout_s, request.build_timeout_s, request.num_correct_trials) == (7.0, 9.0, 3)


def test_daemon_settings_are_the_request_fields_marked_settings():
    settings = Settings()
    for option, field in options_for("settings").items():
        assert getattr(settings, option) == EDITOR_DEFAULTS.get(option, field.default), option
        parsed, warnings = parse_settings({camel(option): getattr(settings, option)})
        assert warnings == [] and parsed == settings, option


def test_extension_contributes_every_setting_with_the_same_default():
    contributed = json.loads(PACKAGE_JSON.read_text())["contributes"]["configuration"]["properties"]
    for option in options_for("settings"):
        key = f"kernelEval.{camel(option)}"
        assert key in contributed, key
        assert contributed[key]["default"] == getattr(Settings(), option), key


def test_run_params_are_the_request_fields_marked_run():
    params = {f.name for f in attrs.fields(RunParams)}
    assert set(options_for("run")) <= params
    assert params - set(options_for("run")) == {"custom_uri", "ref_uri", "work_done_token"}
    sample = EvalRequest("r.py", "c.py", "A", "B", "cpu", True, 2, 11, atol=1e-3, rtol=2e-3)
    data = {"customUri": "file:///c.py"}
    data.update({camel(option): getattr(sample, f.name) for option, f in options_for("run").items()})
    parsed = RunParams.from_json(data)
    for option, field in options_for("run").items():
        assert getattr(parsed, option) == getattr(sample, field.name), option


def test_every_request_field_that_a_user_sets_is_exposed_somewhere():
    internal = {"num_warmup", "seed"}  # fixed by the engine
    exposed = {f.name for surface in ("cli", "settings", "run") for f in options_for(surface).values()}
    assert exposed == {f.name for f in attrs.fields(EvalRequest)} - internal
