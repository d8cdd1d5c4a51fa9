"""Client settings: initializationOptions.kernelEval, workspace/didChangeConfiguration settings.kernelEval."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

import attrs

from kernel_eval.references import ReferenceRule
from kernel_eval.request import DEFAULT_BUILD_TIMEOUT_S, DEFAULT_TIMEOUT_S

SECTION = "kernelEval"


@attrs.define(frozen=True)
class Settings:
    evaluate_on_save: bool = True
    measure_performance: bool = True
    device: str = ""
    num_correct_trials: int = 1
    num_perf_trials: int = 10
    atol: float | None = None
    rtol: float | None = None
    timeout: float = DEFAULT_TIMEOUT_S
    build_timeout: float = DEFAULT_BUILD_TIMEOUT_S
    references: tuple[ReferenceRule, ...] = ()
    sandbox: str = "auto"
    """auto, strict or off (README: "The sandbox")."""
    build_while_typing: bool = True
    """Build an extension file's unsaved text after a pause in typing."""
    history: bool = True
    """Append each evaluation to the history database (KERNEL_EVAL_HISTORY=0 also turns it off)."""


_FIELDS: dict[str, tuple[str, type | tuple[type, ...], bool]] = {
    # client key: (attribute, accepted types, may be null)
    "evaluateOnSave": ("evaluate_on_save", bool, False),
    "measurePerformance": ("measure_performance", bool, False),
    "device": ("device", str, False),
    "numCorrectTrials": ("num_correct_trials", int, False),
    "numPerfTrials": ("num_perf_trials", int, False),
    "atol": ("atol", (int, float), True),
    "rtol": ("rtol", (int, float), True),
    "timeout": ("timeout", (int, float), False),
    "buildTimeout": ("build_timeout", (int, float), False),
    "history": ("history", bool, False),
    "buildWhileTyping": ("build_while_typing", bool, False),
    "sandbox": ("sandbox", str, False),
}
SANDBOX_MODES = ("auto", "strict", "off")


def parse_settings(data: Any, base: Settings | None = None) -> tuple[Settings, list[str]]:
    """Settings from the client's `kernelEval` object on top of `base`. Bad values are skipped (warnings).

    `data` may be the `kernelEval` object itself or a settings object that contains it under "kernelEval".
    """
    settings = base or Settings()
    warnings: list[str] = []
    if data is None:
        return settings, warnings
    if isinstance(data, Mapping) and isinstance(data.get(SECTION), Mapping):
        data = data[SECTION]
    if not isinstance(data, Mapping):
        return settings, [f"{SECTION} settings must be an object, got {type(data).__name__}; ignored"]

    changes: dict[str, Any] = {}
    for key, value in data.items():
        if key == "references":
            rules, rule_warnings = parse_reference_rules(value)
            changes["references"] = rules
            warnings.extend(rule_warnings)
            continue
        if key not in _FIELDS:
            continue  # unknown keys belong to the client (e.g. the extension's own options)
        attribute, accepted, nullable = _FIELDS[key]
        if value is None and nullable:
            changes[attribute] = None
        elif isinstance(value, accepted) and not (isinstance(value, bool) and accepted is not bool):
            changes[attribute] = float(cast(float, value)) if accepted == (int, float) else value
        else:
            warnings.append(
                f"{SECTION}.{key}: expected {_describe(accepted, nullable)}, got {value!r}; ignored"
            )
    for name in ("num_correct_trials", "num_perf_trials"):
        if name in changes and changes[name] < 1:
            warnings.append(f"{SECTION}.{_client_key(name)} must be at least 1, got {changes[name]}; ignored")
            del changes[name]
    if changes.get("sandbox", "auto") not in SANDBOX_MODES:
        warnings.append(
            f"{SECTION}.sandbox must be one of {', '.join(SANDBOX_MODES)}, got {changes['sandbox']!r}; ignored"
        )
        del changes["sandbox"]
    for name in ("timeout", "build_timeout"):
        if name in changes and changes[name] <= 0:
            warnings.append(f"{SECTION}.{_client_key(name)} must be positive, got {changes[name]}; ignored")
            del changes[name]
    return attrs.evolve(settings, **changes), warnings


def parse_reference_rules(value: Any) -> tuple[tuple[ReferenceRule, ...], list[str]]:
    """`{"glob": {"ref": "path", "refEntryPoint": ..., "customEntryPoint": ...}}` (or "glob": "path")."""
    if value is None:
        return (), []
    if not isinstance(value, Mapping):
        return (), [f"{SECTION}.references must be an object mapping globs to references; ignored"]
    rules: list[ReferenceRule] = []
    warnings: list[str] = []
    for glob, spec in value.items():
        if isinstance(spec, str):
            spec = {"ref": spec}
        if not isinstance(spec, Mapping) or not isinstance(spec.get("ref"), str) or not spec["ref"]:
            warnings.append(
                f'{SECTION}.references["{glob}"]: expected {{"ref": "path/to/reference.py"}}; ignored'
            )
            continue
        rules.append(
            ReferenceRule(
                custom_glob=str(glob),
                ref=spec["ref"],
                ref_entry_point=_optional_str(spec.get("refEntryPoint")),
                custom_entry_point=_optional_str(spec.get("customEntryPoint")),
            )
        )
    return tuple(rules), warnings


def _optional_str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _client_key(attribute: str) -> str:
    return next(key for key, (attr, _, _) in _FIELDS.items() if attr == attribute)


def _describe(accepted: type | tuple[type, ...], nullable: bool) -> str:
    names = {bool: "true/false", str: "a string", int: "an integer", float: "a number"}
    kinds = accepted if isinstance(accepted, tuple) else (accepted,)
    text = " or ".join(dict.fromkeys(names[k] for k in kinds if k is not int or float not in kinds))
    return f"{text} or null" if nullable else text
