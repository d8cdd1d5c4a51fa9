"""What a batch evaluates: named (reference, custom) pairs from a directory, a KernelBench run, or a JSONL file.

Layouts understood:
- pairs: `<name>/ref.py` + `<name>/custom.py` (name = the folder).
- one reference, several solutions: `<problem>/ref.py` + any other `<problem>/*.py` (name = `<problem>/<stem>`).
- KernelBench: a run folder of `level_<L>_problem_<P>_sample_<S>_kernel.py` judged against
  `<references>/level<L>/<P>_<Name>.py` (the KernelBench/ folder of the KernelBench repository).
- JSONL: one object per line with ref_src, custom_src and any EvalRequest field (plus an optional name).
  Relative paths are relative to the JSONL file.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import attrs

from kernel_eval.request import EvalRequest

REFERENCE_NAMES = ("ref.py", "reference.py")
KERNELBENCH_SOLUTION = re.compile(
    r"level_(?P<level>\d+)_problem_(?P<problem>\d+)_sample_(?P<sample>\d+)_kernel\.py"
)


class SpecError(ValueError):
    """The batch spec could not be read. The message says why."""


@attrs.define
class Pair:
    """One evaluation of a batch: a stable name (the resume key) and its request."""

    name: str
    request: EvalRequest


def discover(spec: Path, references: Path | None, template: EvalRequest) -> list[Pair]:
    """The pairs `spec` names, in a stable order. `template` gives the options the spec leaves out."""
    if spec.is_file() and spec.suffix in (".jsonl", ".json"):
        return from_jsonl(spec, template)
    if not spec.exists():
        raise SpecError(
            f"{spec}: no such folder or file; pass a folder of pairs or a .jsonl file of requests"
        )
    if not spec.is_dir():
        raise SpecError(f"{spec}: not a directory of pairs or a .jsonl file of requests")
    if any(KERNELBENCH_SOLUTION.fullmatch(p.name) for p in spec.iterdir()):
        if references is None:
            raise SpecError(
                f"{spec} holds KernelBench solutions: pass --references with the KernelBench/ folder "
                "(the one holding level1/, level2/, ...)"
            )
        return from_kernelbench(spec, references, template)
    pairs = [
        pair
        for folder in sorted(p for p in spec.iterdir() if p.is_dir())
        for pair in from_folder(folder, spec, template)
    ]
    if not pairs:
        raise SpecError(f"{spec}: no pairs found (expected <name>/ref.py next to <name>/custom.py)")
    return pairs


def from_folder(folder: Path, root: Path, template: EvalRequest) -> list[Pair]:
    ref = next((folder / n for n in REFERENCE_NAMES if (folder / n).is_file()), None)
    if ref is None:
        return []
    solutions = sorted(
        p for p in folder.glob("*.py") if p.name not in REFERENCE_NAMES and not p.name.startswith("_")
    )
    name = str(folder.relative_to(root))
    if [p.name for p in solutions] == ["custom.py"]:
        return [_pair(name, ref, solutions[0], template)]
    return [_pair(f"{name}/{p.stem}", ref, p, template) for p in solutions]


def from_kernelbench(run_dir: Path, references: Path, template: EvalRequest) -> list[Pair]:
    pairs = []
    index: dict[tuple[int, int], Path] = {}
    for level_dir in references.glob("level*"):
        level = level_dir.name.removeprefix("level")
        if not level.isdigit():
            continue
        for file in level_dir.glob("*.py"):
            number = file.name.split("_", 1)[0]
            if number.isdigit():
                index[(int(level), int(number))] = file
    solutions = [(KERNELBENCH_SOLUTION.fullmatch(p.name), p) for p in run_dir.iterdir()]
    for match, file in sorted(
        ((m, p) for m, p in solutions if m),
        key=lambda mp: (int(mp[0]["level"]), int(mp[0]["problem"]), int(mp[0]["sample"])),
    ):
        ref = index.get((int(match["level"]), int(match["problem"])))
        if ref is None:
            raise SpecError(
                f"{file.name}: no reference level{match['level']}/{match['problem']}_*.py in {references}"
            )
        pairs.append(_pair(file.name.removesuffix("_kernel.py"), ref, file, template))
    return pairs


def from_jsonl(path: Path, template: EvalRequest) -> list[Pair]:
    fields = {f.name for f in attrs.fields(EvalRequest)}
    pairs = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            data: dict[str, Any] = json.loads(line)
            ref, custom = Path(data["ref_src"]), Path(data["custom_src"])
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise SpecError(
                f"{path}:{number}: expected an object with ref_src and custom_src ({exc})"
            ) from None
        unknown = set(data) - fields - {"name"}
        if unknown:
            raise SpecError(f"{path}:{number}: unknown fields {', '.join(sorted(unknown))}")
        options = {k: v for k, v in data.items() if k in fields and k not in ("ref_src", "custom_src")}
        name = str(data.get("name") or f"{custom.parent.name}/{custom.stem}")
        pair = _pair(name, path.parent / ref, path.parent / custom, attrs.evolve(template, **options))
        pairs.append(pair)
    names = [p.name for p in pairs]
    if len(set(names)) != len(names):
        raise SpecError(f'{path}: pair names must be unique (give each line a distinct "name")')
    return pairs


def _pair(name: str, ref: Path, custom: Path, template: EvalRequest) -> Pair:
    return Pair(name, attrs.evolve(template, ref_src=str(ref.resolve()), custom_src=str(custom.resolve())))
