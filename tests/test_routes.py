"""Each worker answers its own requests only: a request for the other worker's method gets the same internal error
as a failing handler, and its own requests reach the handler decoded into their Params class."""

from __future__ import annotations

from kernel_eval.protocol.candidate import CANDIDATE_ROUTES, CandidateTimeParams, LoadParams
from kernel_eval.protocol.judge import (
    JUDGE_ROUTES,
    CompareParams,
    CompareResult,
    JudgeTimeParams,
    JudgeTimeResult,
    MakeInputsParams,
    MakeInputsResult,
    PrepareParams,
    PrepareResult,
)
from kernel_eval.protocol.messages import Envelope
from kernel_eval.result import Backend, to_data
from kernel_eval.worker.main import _handle


class FakeJudge:
    """Answers `prepare` from its params; the other handlers are never called here."""

    def prepare(self, params: PrepareParams) -> PrepareResult:
        return PrepareResult(init=f"{params.ref_src}:{params.seed}")

    def make_inputs(self, params: MakeInputsParams) -> MakeInputsResult:
        raise AssertionError("not called")

    def compare(self, params: CompareParams) -> CompareResult:
        raise AssertionError("not called")

    def time(self, params: JudgeTimeParams) -> JudgeTimeResult:
        raise AssertionError("not called")


def test_a_request_reaches_its_handler_decoded():
    envelope = Envelope(7, "prepare", to_data(PrepareParams("ref.py", "Model", 42)))
    reply = _handle(FakeJudge(), JUDGE_ROUTES, envelope)
    assert reply.id == 7
    assert reply.error is None
    assert reply.result == {"init": "ref.py:42", "ref_sha256": ""}


def test_the_judge_refuses_a_candidate_method_with_an_internal_error():
    load = LoadParams("custom.py", "ModelNew", 42, "init.pt", Backend.PYTORCH)
    reply = _handle(FakeJudge(), JUDGE_ROUTES, Envelope(3, load.METHOD, to_data(load)))
    assert reply.id == 3
    assert reply.result is None
    assert reply.error is not None
    assert [message.kind for message in reply.error] == ["internal_error"]
    assert "the judge worker answers no 'load' request" in reply.error[0].message


def test_the_candidate_refuses_a_judge_method_with_an_internal_error():
    prepare = PrepareParams("ref.py", "Model", 42)
    reply = _handle(object(), CANDIDATE_ROUTES, Envelope(4, prepare.METHOD, to_data(prepare)))
    assert reply.error is not None
    assert [message.kind for message in reply.error] == ["internal_error"]
    assert "the candidate worker answers no 'prepare' request" in reply.error[0].message


def test_both_workers_time_under_one_method_name_with_their_own_params():
    assert JUDGE_ROUTES["time"].params is JudgeTimeParams
    assert CANDIDATE_ROUTES["time"].params is CandidateTimeParams
