"""kernel-eval's own LSP messages (documented in docs/protocol.md). JSON keys are camelCase.

The messages are attrs classes that pygls' converter (de)serialises: register_messages adds them to it.
"""

from __future__ import annotations

import typing
from collections.abc import Mapping
from typing import Any

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override
from pygls.exceptions import JsonRpcException
from pygls.protocol import default_converter

RUN_REQUEST = "kernelEval/run"
RESULT_NOTIFICATION = "kernelEval/result"
EVALUATING_NOTIFICATION = "kernelEval/evaluating"
RUN_COMMAND = "kernelEval.run"
CLEAR_CACHE_COMMAND = "kernelEval.clearCache"
SET_REFERENCE_COMMAND = "kernelEval.setReference"

CANCELLED_PHASE = "cancelled"  # kernelEval/evaluating phase: stopped without a result


class RequestFailed(JsonRpcException):
    """LSP's RequestFailed: the request was valid but could not be served (e.g. no reference found)."""

    CODE = -32803
    MESSAGE = "Request failed"


@attrs.define(frozen=True)
class RunParams:
    custom_uri: str
    ref_uri: str | None = None
    ref_entry_point: str | None = None
    custom_entry_point: str | None = None
    device: str | None = None
    measure_performance: bool | None = None
    num_correct_trials: int | None = None
    num_perf_trials: int | None = None
    atol: float | None = None
    rtol: float | None = None
    sandbox: str | None = None
    work_done_token: str | int | None = None

    @classmethod
    def from_json(cls, params: Any) -> RunParams:
        """From the request's params (pygls hands custom params over as namedtuples; dicts work too)."""
        data = plain(params)
        if not isinstance(data, Mapping) or not isinstance(data.get("customUri"), str):
            raise ValueError('kernelEval/run needs params {"customUri": "file:///path/to/model_new.py"}')
        for name, accepted in _json_types(cls).items():
            key, value = camel_case(name), data.get(camel_case(name))
            if value is not None and (
                not isinstance(value, accepted) or (isinstance(value, bool) and bool not in accepted)
            ):
                raise ValueError(f"kernelEval/run: {key} has the wrong type ({value!r})")
        if data.get("sandbox") not in (None, "auto", "strict", "off"):
            raise ValueError(f"kernelEval/run: sandbox must be auto, strict or off (got {data['sandbox']!r})")
        for key in ("numCorrectTrials", "numPerfTrials"):
            if data.get(key) is not None and data[key] < 1:
                raise ValueError(f"kernelEval/run: {key} must be at least 1 (got {data[key]})")
        return converter.structure(data, cls)


def _json_types(cls: type) -> dict[str, tuple[type, ...]]:
    """The types each field accepts from JSON, by its annotation: a float field takes an integer too."""
    accepted = {}
    for name, hint in typing.get_type_hints(cls).items():
        kinds = tuple(kind for kind in typing.get_args(hint) if kind is not type(None)) or (hint,)
        accepted[name] = (*kinds, int) if float in kinds else kinds
    return accepted


def plain(value: Any) -> Any:
    """namedtuple trees (how pygls structures untyped params) -> dicts and lists."""
    if hasattr(value, "_asdict"):
        return {key: plain(item) for key, item in value._asdict().items()}
    if isinstance(value, Mapping):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    return value


@attrs.define(frozen=True)
class ResultNotification:
    """kernelEval/result: a finished evaluation. `result` is EvalResult.to_dict()."""

    uri: str
    result: dict[str, Any]


@attrs.define(frozen=True)
class EvaluatingNotification:
    """kernelEval/evaluating: an evaluation started or changed phase ("cancelled": stopped without result)."""

    uri: str
    phase: str
    message: str


def camel_case(name: str) -> str:
    """custom_entry_point -> customEntryPoint, as LSP (and lsprotocol's converter) spells keys."""
    first, *rest = name.split("_")
    return first + "".join(word.title() for word in rest)


MESSAGES = (RunParams, ResultNotification, EvaluatingNotification)


def register_messages(target: cattrs.Converter) -> cattrs.Converter:
    """Teach a pygls converter kernel-eval's messages, with camelCase keys on the wire."""
    for cls in MESSAGES:
        # typed Any: cattrs' own keyword options share these functions' **kwargs, which mypy cannot tell apart
        names = [(field.name, camel_case(field.name)) for field in attrs.fields(cls)]
        as_sent: dict[str, Any] = {name: override(rename=key, struct_hook=_as_sent) for name, key in names}
        renamed: dict[str, Any] = {name: override(rename=key) for name, key in names}
        target.register_structure_hook(cls, make_dict_structure_fn(cls, target, **as_sent))
        target.register_unstructure_hook(cls, make_dict_unstructure_fn(cls, target, **renamed))
    return target


def _as_sent(value: Any, _type: Any) -> Any:
    """A JSON value as it came (from_json checks its type; cattrs would coerce, e.g. 1 to 1.0 or str(enum))."""
    return value


converter = register_messages(default_converter())  # for messages handled outside the server's protocol
