"""Finding the reference a custom kernel file is judged against.

Rules, first match wins:
- an explicit refUri
- a directive comment in the custom file
  (`# kernel-eval: ref=relative/path.py entry=Model custom_entry=ModelNew`)
- a reference remembered through kernelEval.setReference
- `[[tool.kernel-eval.references]]` in the nearest pyproject.toml
- the client's `kernelEval.references` setting
- naming conventions (model_new_X.py -> model_X.py / model_ex_X.py, X_triton.py -> X_code.py,
  X_new.py -> X.py)
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 reads pyproject.toml only when tomli is installed
    try:
        import tomli as tomllib
    except ImportError:
        tomllib = None

DEFAULT_REF_ENTRY = "Model"
DEFAULT_CUSTOM_ENTRY = "ModelNew"

DIRECTIVE = re.compile(r"^\s*#\s*kernel-eval\s*:\s*(?P<body>.*)$")
_KERNEL_MARKERS = re.compile(r"^\s*class\s+ModelNew\b|\bload_inline\b|\btriton\.jit\b", re.MULTILINE)

HOW_TO_CONFIGURE = (
    "add a comment `# kernel-eval: ref=path/to/reference.py entry=Model` to this file, "
    'or a `[[tool.kernel-eval.references]]` table (custom = "glob", ref = "path") to pyproject.toml, '
    "or the `kernelEval.references` setting, or name the files model_new_X.py / model_X.py"
)


@attrs.define(frozen=True)
class ReferenceRule:
    """A configured pairing: custom files matching `custom_glob` are judged against `ref`."""

    custom_glob: str
    ref: str
    ref_entry_point: str | None = None
    custom_entry_point: str | None = None


@attrs.define(frozen=True)
class ReferenceMatch:
    ref_path: Path
    ref_entry_point: str = DEFAULT_REF_ENTRY
    custom_entry_point: str = DEFAULT_CUSTOM_ENTRY
    rule: str = ""
    """explicit | directive | remembered | pyproject | settings | naming."""
    origin: str = ""
    """Where the rule was written, for humans."""


class ReferenceProblem(Exception):
    """A rule names an unusable reference. `line` (1-based, 0 = none) is where the rule is written."""

    def __init__(self, message: str, line: int = 0) -> None:
        super().__init__(message)
        self.line = line


def looks_like_kernel_file(text: str) -> bool:
    """Files worth a "no reference configured" diagnostic (every other .py file stays quiet)."""
    return _KERNEL_MARKERS.search(text) is not None


def find_reference(
    custom_path: Path,
    text: str,
    *,
    remembered: Mapping[Path, ReferenceRule] | None = None,
    settings_rules: Iterable[ReferenceRule] = (),
    workspace_root: Path | None = None,
) -> ReferenceMatch | None:
    """The reference for `custom_path` (whose current content is `text`), or None when no rule matches.

    Raises ReferenceProblem when a matching rule names a file that does not exist.
    """
    custom_path = custom_path.resolve()
    for finder in (
        lambda: _from_directive(custom_path, text),
        lambda: _from_remembered(custom_path, remembered or {}),
        lambda: _from_pyproject(custom_path),
        lambda: _from_settings(custom_path, settings_rules, workspace_root),
        lambda: _from_naming(custom_path),
    ):
        match = finder()
        if match is not None:
            return match
    return None


def explicit_reference(
    ref_path: Path, ref_entry_point: str | None, custom_entry_point: str | None
) -> ReferenceMatch:
    if not ref_path.is_file():
        raise ReferenceProblem(f"reference file {ref_path} does not exist")
    return ReferenceMatch(
        ref_path=ref_path.resolve(),
        ref_entry_point=ref_entry_point or DEFAULT_REF_ENTRY,
        custom_entry_point=custom_entry_point or DEFAULT_CUSTOM_ENTRY,
        rule="explicit",
        origin="refUri",
    )


def parse_directive(text: str) -> tuple[int, dict[str, str]] | None:
    """(1-based line, key=value pairs) of the first `# kernel-eval:` comment, or None."""
    for number, line in enumerate(text.splitlines(), start=1):
        found = DIRECTIVE.match(line)
        if found:
            pairs = dict(
                token.split("=", 1)
                for token in found["body"].split()
                if "=" in token and token.split("=", 1)[1]
            )
            return number, pairs
    return None


def _from_directive(custom_path: Path, text: str) -> ReferenceMatch | None:
    parsed = parse_directive(text)
    if parsed is None:
        return None
    line, pairs = parsed
    if "ref" not in pairs:
        raise ReferenceProblem(
            "the `# kernel-eval:` comment names no reference; write `# kernel-eval: ref=path/to/ref.py`",
            line,
        )
    ref_path = (custom_path.parent / pairs["ref"]).resolve()
    if not ref_path.is_file():
        raise ReferenceProblem(
            f"the `# kernel-eval:` comment names ref={pairs['ref']}, but {ref_path} does not exist "
            "(the path is relative to this file)",
            line,
        )
    return ReferenceMatch(
        ref_path=ref_path,
        ref_entry_point=pairs.get("entry", DEFAULT_REF_ENTRY),
        custom_entry_point=pairs.get("custom_entry", DEFAULT_CUSTOM_ENTRY),
        rule="directive",
        origin=f"{custom_path.name}:{line}",
    )


def _from_remembered(custom_path: Path, remembered: Mapping[Path, ReferenceRule]) -> ReferenceMatch | None:
    rule = remembered.get(custom_path)
    if rule is None:
        return None
    return _match_rule(rule, Path(rule.ref), "remembered", "kernelEval.setReference")


def _from_pyproject(custom_path: Path) -> ReferenceMatch | None:
    pyproject = _nearest_pyproject(custom_path.parent)
    if pyproject is None:
        return None
    root = pyproject.parent
    for rule in _pyproject_rules(pyproject):
        if glob_matches(rule.custom_glob, custom_path, root):
            return _match_rule(rule, root / rule.ref, "pyproject", f"{pyproject} [tool.kernel-eval]")
    return None


def _from_settings(
    custom_path: Path, rules: Iterable[ReferenceRule], workspace_root: Path | None
) -> ReferenceMatch | None:
    root = (workspace_root or custom_path.parent).resolve()
    for rule in rules:
        if glob_matches(rule.custom_glob, custom_path, root):
            return _match_rule(
                rule, root / rule.ref, "settings", f'kernelEval.references["{rule.custom_glob}"]'
            )
    return None


def naming_candidates(custom_path: Path) -> list[Path]:
    """References the naming conventions suggest for `custom_path`, most specific first."""
    name, folder = custom_path.stem, custom_path.parent
    stems: list[str] = []
    if name.startswith("model_new_"):
        # model_new_ex_add_illegal.py falls back to model_ex_add.py: variants share their base's reference.
        parts = name[len("model_new_") :].split("_")
        for end in range(len(parts), 0, -1):
            rest = "_".join(parts[:end])
            stems += [f"model_{rest}", f"model_ex_{rest}"]
    if name.endswith("_triton"):
        stems.append(name[: -len("_triton")] + "_code")
    if name.endswith("_new"):
        stems.append(name[: -len("_new")])
    return [folder / f"{stem}{custom_path.suffix}" for stem in stems if stem]


def _from_naming(custom_path: Path) -> ReferenceMatch | None:
    for candidate in naming_candidates(custom_path):
        if candidate.is_file() and candidate != custom_path:
            return ReferenceMatch(ref_path=candidate.resolve(), rule="naming", origin="naming convention")
    return None


def _match_rule(rule: ReferenceRule, ref_path: Path, kind: str, origin: str) -> ReferenceMatch:
    ref_path = ref_path.expanduser()
    if not ref_path.is_file():
        raise ReferenceProblem(f"{origin} names ref {rule.ref!r}, but {ref_path} does not exist")
    return ReferenceMatch(
        ref_path=ref_path.resolve(),
        ref_entry_point=rule.ref_entry_point or DEFAULT_REF_ENTRY,
        custom_entry_point=rule.custom_entry_point or DEFAULT_CUSTOM_ENTRY,
        rule=kind,
        origin=origin,
    )


def _nearest_pyproject(folder: Path) -> Path | None:
    for candidate_dir in (folder, *folder.parents):
        candidate = candidate_dir / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


_pyproject_cache: dict[Path, tuple[float, tuple[ReferenceRule, ...]]] = {}


def _pyproject_rules(pyproject: Path) -> tuple[ReferenceRule, ...]:
    """`[[tool.kernel-eval.references]]` entries (cached by mtime). A broken file raises ReferenceProblem."""
    mtime = pyproject.stat().st_mtime
    cached = _pyproject_cache.get(pyproject)
    if cached is not None and cached[0] == mtime:
        return cached[1]
    if tomllib is None:
        return ()
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ReferenceProblem(f"cannot read {pyproject}: {exc}") from exc
    rules = _rules_from_table(data.get("tool", {}).get("kernel-eval", {}), pyproject)
    _pyproject_cache[pyproject] = (mtime, rules)
    return rules


def _rules_from_table(table: Any, pyproject: Path) -> tuple[ReferenceRule, ...]:
    entries = table.get("references", []) if isinstance(table, dict) else []
    rules = []
    for index, entry in enumerate(entries if isinstance(entries, list) else []):
        if not (
            isinstance(entry, dict)
            and isinstance(entry.get("custom"), str)
            and isinstance(entry.get("ref"), str)
        ):
            raise ReferenceProblem(
                f"{pyproject}: [[tool.kernel-eval.references]] entry {index + 1} needs string keys "
                '`custom = "glob"` and `ref = "path/to/reference.py"`'
            )
        rules.append(
            ReferenceRule(
                custom_glob=entry["custom"],
                ref=entry["ref"],
                ref_entry_point=entry.get("ref_entry_point"),
                custom_entry_point=entry.get("custom_entry_point"),
            )
        )
    return tuple(rules)


def glob_matches(pattern: str, path: Path, root: Path) -> bool:
    """Workspace-style glob, relative to `root`: `**` spans folders, `*` and `?` stay within one.

    A pattern without a slash matches the file name in any folder (like .gitignore).
    """
    try:
        relative = path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return False
    target = relative if "/" in pattern else path.name
    return _glob_regex(pattern.removeprefix("./")).fullmatch(target) is not None


def _glob_regex(pattern: str) -> re.Pattern[str]:
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out))
