"""The JSON Schema of EvalResult.to_dict(), generated from the attrs classes of kernel_eval.result.

The VS Code extension's result types are generated from this schema (npm run generate:types), so neither can
drift from the Python classes. Regenerate both after changing a result class:

    python -m kernel_eval.result_schema && npm run generate:types
"""

from __future__ import annotations

import enum
import json
import sys
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs

from kernel_eval import result

SCHEMA_PATH = (
    Path(__file__).resolve().parents[2] / "vscode-extension" / "src" / "generated" / "result.schema.json"
)
REGENERATE_COMMAND = "python -m kernel_eval.result_schema && npm run generate:types"

# Keys EvalResult.to_dict() adds to the attrs fields: what the server decided, for clients to show as it is.
DERIVED_FIELDS: dict[str, tuple[type, str]] = {
    "headline": (str, "The one line to show first, written by the server (never re-derived by a client)."),
    "speedup_text": (str, 'The speedup as the server formats it ("2.31×"), "" when not timed.'),
    "status": (result.Status, "The verdict as shown: a correct result with an error flag is flagged."),
}

_PRIMITIVES: dict[type, dict[str, Any]] = {
    str: {"type": "string"},
    bool: {"type": "boolean"},
    int: {"type": "integer"},
    float: {"type": "number"},
    type(None): {"type": "null"},
}


class _SchemaBuilder:
    """Walks attrs classes into JSON Schema definitions, one per class and enum, referenced by name."""

    def __init__(self) -> None:
        self.definitions: dict[str, dict[str, Any]] = {}

    def reference(self, hint: Any) -> dict[str, Any]:
        """The schema of one type hint: primitives inline, classes and enums as $ref to a definition."""
        if hint in _PRIMITIVES:
            return dict(_PRIMITIVES[hint])
        if hint is Any:
            return {}
        if isinstance(hint, type) and issubclass(hint, enum.Enum):
            return self._define(hint, lambda: _enum_schema(hint))
        if isinstance(hint, type) and attrs.has(hint):
            return self._define(hint, lambda: self.class_schema(hint))
        origin, arguments = typing.get_origin(hint), typing.get_args(hint)
        if origin in (typing.Union, types.UnionType):
            return {"anyOf": [self.reference(argument) for argument in arguments]}
        if origin is list:
            return {"type": "array", "items": self.reference(arguments[0])}
        if origin is dict:
            return {"type": "object", "additionalProperties": self.reference(arguments[1])}
        raise TypeError(f"result_schema: no JSON Schema for {hint!r}")

    def _define(self, cls: type, build: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        if cls.__name__ not in self.definitions:
            self.definitions[cls.__name__] = {}  # a placeholder first: recursive classes end here
            self.definitions[cls.__name__] = build()
        return {"$ref": f"#/definitions/{cls.__name__}"}

    def class_schema(self, cls: type, extra: dict[str, tuple[type, str]] | None = None) -> dict[str, Any]:
        hints = typing.get_type_hints(cls)
        properties = {field.name: self.reference(hints[field.name]) for field in attrs.fields(cls)}
        for name, (hint, description) in (extra or {}).items():
            derived = self.reference(hint)
            # a $ref's siblings are ignored (draft-07): an enum documents itself
            properties[name] = derived if "$ref" in derived else {**derived, "description": description}
        schema: dict[str, Any] = {"type": "object", "title": cls.__name__}
        if cls.__doc__:
            schema["description"] = " ".join(cls.__doc__.split())
        # cattrs writes every field (omit_if_default=False), so every key is always present.
        schema.update(properties=properties, required=list(properties), additionalProperties=False)
        return schema


def _enum_schema(cls: type[enum.Enum]) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string", "title": cls.__name__, "enum": [m.value for m in cls]}
    if cls.__doc__ and cls.__doc__ != enum.Enum.__doc__:
        schema["description"] = " ".join(cls.__doc__.split())
    return schema


def result_schema() -> dict[str, Any]:
    """The JSON Schema of EvalResult.to_dict(): its attrs fields plus the derived keys the server adds."""
    builder = _SchemaBuilder()
    root = builder.class_schema(result.EvalResult, DERIVED_FIELDS)
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "$comment": f"Generated from daemon/kernel_eval/result.py; do not edit. Regenerate: {REGENERATE_COMMAND}",
        **root,
        "definitions": dict(sorted(builder.definitions.items())),
    }


def schema_text() -> str:
    """The schema as the checked-in file holds it."""
    return json.dumps(result_schema(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> None:
    """Write the schema to vscode-extension/src/generated/result.schema.json (or to the path given)."""
    arguments = sys.argv[1:] if argv is None else argv
    path = Path(arguments[0]) if arguments else SCHEMA_PATH
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(schema_text(), encoding="utf-8")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
