"""kernel-eval's own LSP messages (documented in docs/protocol.md). JSON keys are camelCase."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
from pygls.exceptions import JsonRpcException

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
        checks: dict[str, tuple[type | tuple[type, ...], ...]] = {
            "refUri": (str,),
            "refEntryPoint": (str,),
            "customEntryPoint": (str,),
            "device": (str,),
            "measurePerformance": (bool,),
            "numCorrectTrials": (int,),
            "numPerfTrials": (int,),
            "atol": (int, float),
            "rtol": (int, float),
            "sandbox": (str,),
            "workDoneToken": (str, int),
        }
        for key, accepted in checks.items():
            value = data.get(key)
            if value is not None and (
                not isinstance(value, accepted) or (isinstance(value, bool) and bool not in accepted)
            ):
                raise ValueError(f"kernelEval/run: {key} has the wrong type ({value!r})")
        if data.get("sandbox") not in (None, "auto", "strict", "off"):
            raise ValueError(f"kernelEval/run: sandbox must be auto, strict or off (got {data['sandbox']!r})")
        for key in ("numCorrectTrials", "numPerfTrials"):
            if data.get(key) is not None and data[key] < 1:
                raise ValueError(f"kernelEval/run: {key} must be at least 1 (got {data[key]})")
        return cls(
            custom_uri=data["customUri"],
            ref_uri=data.get("refUri"),
            ref_entry_point=data.get("refEntryPoint"),
            custom_entry_point=data.get("customEntryPoint"),
            device=data.get("device"),
            measure_performance=data.get("measurePerformance"),
            num_correct_trials=data.get("numCorrectTrials"),
            num_perf_trials=data.get("numPerfTrials"),
            atol=data.get("atol"),
            rtol=data.get("rtol"),
            sandbox=data.get("sandbox"),
            work_done_token=data.get("workDoneToken"),
        )


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
    """kernelEval/result: a finished evaluation; `result` is EvalResult.to_dict()."""

    uri: str
    result: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"uri": self.uri, "result": self.result}


@attrs.define(frozen=True)
class EvaluatingNotification:
    """kernelEval/evaluating: an evaluation started or changed phase ("cancelled": stopped without result)."""

    uri: str
    phase: str
    message: str

    def to_json(self) -> dict[str, Any]:
        return {"uri": self.uri, "phase": self.phase, "message": self.message}
