"""kernel-eval batch on the CPU: resume and --force, the summary, a crashing pair, layouts, and the Ray path."""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

import pytest
from cases import cpu_case
from rich.console import Console

from kernel_eval.batch import lanes as lanes_module
from kernel_eval.batch.lanes import LaneResult, failed
from kernel_eval.batch.output import ResultWriter, read_lines
from kernel_eval.batch.runner import Runner
from kernel_eval.batch.spec import Pair, SpecError, discover
from kernel_eval.batch.summary import summarize, summary_table
from kernel_eval.kinds import MessageKind
from kernel_eval.launch import main
from kernel_eval.request import EvalRequest
from kernel_eval.result import EvalResult, Flag, Phase, SourceInfo, Timing, TimingStats, Verdict

TEMPLATE = EvalRequest(ref_src="", custom_src="")


def make_pairs(root: Path, cases: list[str]) -> Path:
    for case in cases:
        ref, custom = cpu_case(case)
        (root / case).mkdir(parents=True)
        shutil.copy(ref, root / case / "ref.py")
        shutil.copy(custom, root / case / "custom.py")
    return root


def batch(*args: str) -> int:
    return main(["batch", *args, "--quiet", "--num-perf-trials", "10", "--build-jobs", "1"])


def names(out: Path) -> list[str]:
    return [json.loads(line)["name"] for line in out.read_text().splitlines()]


def test_batch_resume_force_and_a_crash(tmp_path: Path) -> None:
    pairs = make_pairs(tmp_path / "pairs", ["add", "wrong_shape", "segfault"])
    out = tmp_path / "results.jsonl"
    assert batch(str(pairs), "--out", str(out)) == 0
    lines = read_lines(out)
    assert sorted(lines) == ["add", "segfault", "wrong_shape"]
    verdicts = {name: EvalResult.from_dict(data).verdict for name, data in lines.items()}
    assert verdicts == {"add": Verdict.CORRECT, "wrong_shape": Verdict.INCORRECT, "segfault": Verdict.ERROR}
    crash = EvalResult.from_dict(lines["segfault"])
    assert any(m.kind == "crash" for m in crash.messages), crash.headline
    assert lines["add"]["batch"]["lane"].startswith("cpu")
    finished = [line["batch"]["at_s"] for line in lines.values()]  # in the order they were written
    assert finished == sorted(finished) and finished[0] > 0
    assert EvalResult.from_dict(lines["add"]).timing is not None

    before = out.read_text()
    assert batch(str(pairs), "--out", str(out)) == 0  # everything done: nothing runs again
    assert out.read_text() == before

    kept = [line for line in before.splitlines() if json.loads(line)["name"] != "add"]
    out.write_text("\n".join(kept) + "\n" + '{"name": "torn')  # a run killed mid-line
    assert batch(str(pairs), "--out", str(out), "--measure-performance", "false") == 0
    assert sorted(names(out)) == ["add", "segfault", "wrong_shape"]  # only the missing pair ran again

    assert batch(str(pairs), "--out", str(out), "--force", "--measure-performance", "false") == 0
    assert sorted(names(out)) == ["add", "segfault", "wrong_shape"]


def test_a_hanging_pair_costs_one_line(tmp_path: Path) -> None:
    pairs = make_pairs(tmp_path / "pairs", ["hang", "add"])
    out = tmp_path / "results.jsonl"
    args = ["--out", str(out), "--timeout", "10", "--measure-performance", "false", "--jobs", "2"]
    assert batch(str(pairs), *args) == 0
    lines = read_lines(out)
    hang, add = EvalResult.from_dict(lines["hang"]), EvalResult.from_dict(lines["add"])
    assert any(m.kind == "timeout" for m in hang.messages), hang.headline
    assert add.verdict is Verdict.CORRECT, add.headline
    assert {lines["hang"]["batch"]["lane"], lines["add"]["batch"]["lane"]} == {
        "cpu#0",
        "cpu#1",
    }  # two CPU lanes


@pytest.mark.skipif(shutil.which("g++") is None, reason="needs a C++ compiler")
def test_build_only_load_makes_the_lanes_load_a_cache_hit(tmp_path: Path) -> None:
    pairs = make_pairs(tmp_path / "pairs", ["cpp_add"])
    out, prefix = tmp_path / "results.jsonl", tmp_path / "builds"
    assert (
        batch(
            str(pairs), "--out", str(out), "--build-dir-prefix", str(prefix), "--measure-performance", "false"
        )
        == 0
    )
    line = read_lines(out)["cpp_add"]
    result = EvalResult.from_dict(line)
    assert result.verdict is Verdict.CORRECT, result.headline
    assert line["batch"]["prebuild_s"] is not None  # the C++ extension was built by a build-only process ...
    assert result.cache_dir.startswith(str(prefix))
    assert (
        line["batch"]["build_s"] - line["batch"]["prebuild_s"] < line["batch"]["prebuild_s"]
    )  # ... and reused


def _result(verdict: Verdict, speedup: float | None = None, flagged: bool = False) -> dict[str, object]:
    stats = TimingStats(1.0, 0.0, 1.0, 0.0, 1.0, 1.0, 10)
    result = EvalResult(
        verdict=verdict,
        phase=Phase.DONE,
        ref=SourceInfo("ref.py", "Model"),
        custom=SourceInfo("custom.py", "ModelNew"),
        device="cpu",
        timing=Timing(stats, stats, speedup, "test", True) if speedup else None,
        flags=[Flag("vacuous_check", "outputs are all zero")] if flagged else [],
    )
    return result.to_dict()


def test_summary_counts_and_geomean() -> None:
    lines = {
        "a": {**_result(Verdict.CORRECT, 2.0), "batch": {"build_s": 3.0}},
        "b": {**_result(Verdict.CORRECT, 8.0), "batch": {"build_s": 9.5}},
        "c": _result(Verdict.CORRECT, 100.0, flagged=True),  # a flagged speedup is not averaged
        "d": _result(Verdict.INCORRECT),
        "e": _result(Verdict.ERROR),
        "f": _result(Verdict.ERROR),
    }
    summary = summarize(lines)
    assert (summary.correct, summary.incorrect, summary.flagged, summary.error) == (2, 1, 1, 2)
    assert summary.geomean_speedup == pytest.approx(4.0)
    assert summary.slowest_builds(1) == [(9.5, "b")]


def test_the_summary_speedup_leaves_out_flagged_pairs_and_says_so() -> None:
    lines = {
        "honest_1": _result(Verdict.CORRECT, 1.5),
        "honest_2": _result(Verdict.CORRECT, 2.0),
        "honest_3": _result(Verdict.CORRECT, 3.0),
        "below_floor": _result(Verdict.CORRECT, 1e6, flagged=True),  # a near-zero time would swamp the mean
    }

    summary = summarize(lines)
    text = Console(width=200, record=True)
    text.print(summary_table(summary))

    assert summary.geomean_speedup == pytest.approx(9.0 ** (1 / 3))
    assert summary.left_out == 1
    assert "2.08× faster over 3; median 2.00× faster; 1 flagged left out" in text.export_text()


def test_kernelbench_layout(tmp_path: Path) -> None:
    references = tmp_path / "KernelBench"
    (references / "level1").mkdir(parents=True)
    (references / "level2").mkdir()
    (references / "level1" / "1_Square_matrix_multiplication_.py").write_text("")
    (references / "level1" / "19_ReLU.py").write_text("")
    (references / "level2" / "1_Conv2D_ReLU_BiasAdd.py").write_text("")
    run = tmp_path / "runs" / "my_run"
    run.mkdir(parents=True)
    for name in ("level_1_problem_19_sample_1", "level_1_problem_19_sample_0", "level_2_problem_1_sample_0"):
        (run / f"{name}_kernel.py").write_text("")
    pairs = discover(run, references, TEMPLATE)
    assert [p.name for p in pairs] == [
        "level_1_problem_19_sample_0",
        "level_1_problem_19_sample_1",
        "level_2_problem_1_sample_0",
    ]
    assert Path(pairs[0].request.ref_src).name == "19_ReLU.py"
    assert Path(pairs[2].request.ref_src).name == "1_Conv2D_ReLU_BiasAdd.py"
    with pytest.raises(SpecError, match="--references"):
        discover(run, None, TEMPLATE)


def test_one_reference_several_solutions_and_jsonl(tmp_path: Path) -> None:
    problem = tmp_path / "pairs" / "relu"
    problem.mkdir(parents=True)
    for name in ("ref.py", "sample_0.py", "sample_1.py"):
        (problem / name).write_text("")
    assert [p.name for p in discover(tmp_path / "pairs", None, TEMPLATE)] == [
        "relu/sample_0",
        "relu/sample_1",
    ]

    spec = tmp_path / "requests.jsonl"
    spec.write_text(
        json.dumps({"ref_src": "pairs/relu/ref.py", "custom_src": "pairs/relu/sample_0.py", "atol": 0.1})
        + "\n"
        + json.dumps(
            {"name": "second", "ref_src": "pairs/relu/ref.py", "custom_src": "pairs/relu/sample_1.py"}
        )
        + "\n"
    )
    pairs = discover(spec, None, TEMPLATE)
    assert [p.name for p in pairs] == ["relu/sample_0", "second"]
    assert pairs[0].request.atol == 0.1 and pairs[0].request.custom_src == str(problem / "sample_0.py")
    spec.write_text(json.dumps({"ref_src": "a.py", "custom_src": "b.py", "bogus": 1}) + "\n")
    with pytest.raises(SpecError, match="bogus"):
        discover(spec, None, TEMPLATE)


@pytest.mark.timeout(180)
def test_ray_local_cpu_lanes(tmp_path: Path) -> None:
    ray = pytest.importorskip("ray")
    from kernel_eval.batch import ray_lanes
    from kernel_eval.batch.output import ResultWriter
    from kernel_eval.batch.runner import Runner
    from kernel_eval.batch.spec import discover as find

    pairs = find(make_pairs(tmp_path / "pairs", ["add", "segfault"]), None, TEMPLATE)
    out = tmp_path / "ray.jsonl"
    try:
        cluster = ray_lanes.start("auto", cpu_lanes=1, num_cpus=2)
        writer = ResultWriter(out, force=True)
        runner = Runner(
            cluster.lanes,
            writer,
            prebuild=lambda pair: cluster.prebuild(pair.name, pair.request, 120.0),
            home=lambda pair: cluster.home(pair.name),
            needs_prebuild=lambda pair: True,  # exercise the build task too
            pair_timeout_s=120.0,
            record_history=False,
        )
        outcomes = runner.run(pairs)
        writer.close()
        for lane in cluster.lanes:
            lane.close()
    finally:
        ray.shutdown()
    assert sorted(o.name for o in outcomes) == ["add", "segfault"]
    lines = read_lines(out)
    add, crash = EvalResult.from_dict(lines["add"]), EvalResult.from_dict(lines["segfault"])
    assert add.verdict is Verdict.CORRECT, add.headline
    assert add.custom.file == str(tmp_path / "pairs" / "add" / "custom.py")  # paths mapped back to ours
    assert crash.verdict is Verdict.ERROR


class FakeLane:
    """Records what it evaluated; no workers."""

    def __init__(self, name: str, node: str = "") -> None:
        self.name, self.node = name, node
        self.seen: list[str] = []

    def evaluate(self, request: EvalRequest, pair_timeout_s: float) -> LaneResult:
        self.seen.append(Path(request.custom_src).parent.name)
        return LaneResult(failed(request, MessageKind.BATCH_ERROR, "not evaluated"), 0.0, 0.0)

    def close(self) -> None:
        pass


def _fake_pairs(root: Path, names: list[str]) -> list[Pair]:
    return [
        Pair(name, EvalRequest(str(root / name / "ref.py"), str(root / name / "custom.py"))) for name in names
    ]


def test_lanes_take_pairs_whose_build_is_done_first(tmp_path: Path) -> None:
    release = threading.Event()

    def prebuild(pair: Pair) -> float | None:
        release.wait(30)  # the CUDA build of "slow" takes a while ...
        return 1.0

    lane = FakeLane("cpu#0")
    pairs = _fake_pairs(tmp_path, ["slow", "a", "b"])
    writer = ResultWriter(tmp_path / "out.jsonl", force=True)
    runner = Runner(
        [lane],
        writer,
        prebuild=prebuild,
        needs_prebuild=lambda pair: pair.name == "slow",
        on_done=lambda outcome: release.set() if outcome.name == "b" else None,
        record_history=False,
    )
    outcomes = runner.run(pairs)
    writer.close()
    assert lane.seen == ["a", "b", "slow"]  # ... so the lane evaluates the ready pairs meanwhile
    assert {o.name: o.prebuild_s for o in outcomes}["slow"] == 1.0
    assert sorted(read_lines(tmp_path / "out.jsonl")) == ["a", "b", "slow"]


def test_lanes_prefer_pairs_built_on_their_node(tmp_path: Path) -> None:
    lanes = [FakeLane("a/gpu0", "node-a"), FakeLane("b/gpu0", "node-b")]
    homes = {"p0": "node-b", "p1": "node-b", "p2": "node-a", "p3": "node-a"}
    writer = ResultWriter(tmp_path / "out.jsonl", force=True)
    runner = Runner(
        lanes[:1],
        writer,
        prebuild=lambda pair: 0.0,
        needs_prebuild=lambda pair: True,
        home=lambda pair: homes[pair.name],
        record_history=False,
    )
    runner._pending = _fake_pairs(tmp_path, list(homes))
    picked = runner._next(lanes[0])
    assert picked is not None and picked.name == "p2"  # the first pair built on the lane's own node
    assert [p.name for p in runner._pending] == ["p0", "p1", "p3"]
    writer.close()


@pytest.mark.parametrize(
    ("cores", "gpu_lanes", "spares"),
    [(32, 1, 8), (32, 2, 8), (64, 4, 8), (16, 1, 8), (16, 2, 4), (4, 1, 2), (128, 8, 8)],
)
def test_gpu_lanes_keep_more_candidates_warming_when_cores_allow(
    monkeypatch: pytest.MonkeyPatch, cores: int, gpu_lanes: int, spares: int
) -> None:
    monkeypatch.setattr(lanes_module.os, "cpu_count", lambda: cores)

    assert lanes_module.spares_for("cuda:0", gpu_lanes) == spares


def test_a_cpu_lane_keeps_one_candidate_warming(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lanes_module.os, "cpu_count", lambda: 64)

    assert lanes_module.spares_for("cpu") == 1


def test_summary_names_each_pair_not_correct_with_its_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    pairs = make_pairs(tmp_path / "pairs", ["add", "wrong_shape", "syntax_error"])
    out = tmp_path / "results.jsonl"
    assert batch(str(pairs), "--out", str(out)) == 0
    printed = capsys.readouterr().out
    lines = printed.splitlines()
    counts = next((line for line in lines if "over 1" in line), printed)
    assert "× slower over 1 (CPU timing: not meaningful)" in counts or "× faster over 1 (CPU timing" in counts
    lines = lines[lines.index("not correct") :]
    wrong = next(line for line in lines if "wrong_shape" in line)
    assert "incorrect" in wrong and "output: shape [65536] vs reference [256, 256]" in wrong
    broken = lines.index(next(line for line in lines if "│ syntax_error" in line))
    assert "error" in lines[broken] and "SyntaxError" in lines[broken]
    assert f"at {pairs / 'syntax_error' / 'custom.py'}:6" in lines[broken + 1]
    assert f"each pair's full result is its line in {out}" in printed
    ref, custom = pairs / "syntax_error" / "ref.py", pairs / "syntax_error" / "custom.py"
    assert f"kernel-eval --ref-src {ref} --custom-src {custom}" in printed
    assert not any("│ add " in line for line in lines)


def test_a_spec_that_does_not_exist_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert batch(str(tmp_path / "nowhere"), "--out", str(tmp_path / "out.jsonl")) == 2
    assert (
        f"{tmp_path / 'nowhere'}: no such folder or file; pass a folder of pairs" in capsys.readouterr().err
    )


def test_a_pair_whose_file_is_missing_costs_its_line_with_the_reason(tmp_path: Path) -> None:
    ref, _ = cpu_case("add")
    requests = tmp_path / "requests.jsonl"
    missing = tmp_path / "gone.py"
    requests.write_text(json.dumps({"name": "gone", "ref_src": str(ref), "custom_src": str(missing)}) + "\n")
    out = tmp_path / "out.jsonl"
    assert batch(str(requests), "--out", str(out), "--measure-performance", "false") == 0
    gone = EvalResult.from_dict(read_lines(out)["gone"])
    [error] = gone.errors
    assert (error.kind, error.message) == ("file_not_found", f"no such custom file: {missing}")
    assert summarize(read_lines(out)).problems[0].reason == f"no such custom file: {missing}"


def test_a_pair_stopped_by_its_pair_timeout_is_an_error_not_a_cancel(tmp_path: Path) -> None:
    pairs = make_pairs(tmp_path / "pairs", ["hang"])
    out = tmp_path / "results.jsonl"
    assert batch(str(pairs), "--out", str(out), "--pair-timeout", "8", "--measure-performance", "false") == 0
    hang = EvalResult.from_dict(read_lines(out)["hang"])
    assert hang.verdict is Verdict.ERROR
    [error] = hang.errors
    assert (error.kind, error.message) == ("timeout", "the pair took longer than 8 s in all and was stopped")
