"""Which of a worker's handlers answers which request.

A worker's `Routes` maps each method name to its Params class and to the handler of the worker's API (a
`typing.Protocol`) that answers it. `Routes.add` is typed so that mypy checks, for every entry, that the handler
takes that Params class and returns its `RESULT`. A method the table lacks (the other worker's) is refused.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, Protocol, TypeVar, cast

import attrs

from kernel_eval.protocol.messages import Params, R

Api = TypeVar("Api")
P = TypeVar("P")
P_co = TypeVar("P_co", covariant=True)
R_co = TypeVar("R_co", covariant=True)


class ParamsClass(Protocol[P_co, R_co]):
    """A Params class, seen as what mypy can tie together: the requests it builds and the type of its reply."""

    @property
    def METHOD(self) -> str: ...

    @property
    def RESULT(self) -> type[R_co]: ...

    def __call__(self, *args: Any, **kwargs: Any) -> P_co: ...


@attrs.frozen
class Route(Generic[Api]):
    """One request type: its Params class, and the call that hands a decoded request to the worker's handler."""

    params: type[Params[Any]]
    answer: Callable[[Api, Any], object]


class Routes(Generic[Api]):
    """A worker's table of requests, built with `add`: `Routes[JudgeApi]("judge").add(PrepareParams, ...)`."""

    def __init__(self, worker: str) -> None:
        self.worker = worker
        self._by_method: dict[str, Route[Api]] = {}

    def add(self, params: ParamsClass[P, R], handler: Callable[[Api], Callable[[P], R]]) -> Routes[Api]:
        """Route `params` requests to `handler(api)`, which must take them and return their `RESULT`."""

        def answer(api: Api, request: P) -> R:
            return handler(api)(request)

        self._by_method[params.METHOD] = Route(cast("type[Params[Any]]", params), answer)
        return self

    def __getitem__(self, method: str) -> Route[Api]:
        """The route of `method`. KeyError for a method this worker does not answer (the other worker's)."""
        try:
            return self._by_method[method]
        except KeyError:
            raise KeyError(f"the {self.worker} worker answers no {method!r} request") from None
