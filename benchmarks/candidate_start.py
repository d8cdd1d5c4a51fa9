"""How soon a new candidate can load a file, forked from the template vs started as a fresh interpreter; and how
soon the evaluation after an illegal memory access comes back.

    python benchmarks/candidate_start.py [--device cuda:0] [--repeats 5]

New candidate: a pool with no spare evaluates one file warm, then a new file: the candidate for it is started on
request. Its "load" phase less that of the same file evaluated again warm is the candidate's start, from request to
able to load; its whole first evaluation (which pays the profiler's first session, seconds of CUPTI set-up) is given
beside the warm one. Each way runs in its own process (KERNEL_EVAL_TEMPLATE=1 or 0); the CPU seconds that process and its
children used are given too.

Recovery (GPU only, as the editor and the server run: one spare): a file evaluated warm, then the same file with an
illegal memory access (its candidate dies), then fixed again. The fixed file's evaluation against the warm one.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import simple_parsing

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "test_data"
sys.path.insert(0, str(ROOT / "daemon"))


@dataclass
class Options:
    device: str = ""  # cuda:0 with a GPU, else cpu
    repeats: int = 5
    inner: str = ""  # (internal) run one way in this process: "new" or "recovery"


def evaluate(pool: object, ref: Path, custom: Path, device: str) -> tuple[float, float, str]:
    from kernel_eval.engine.pool import WorkerPool
    from kernel_eval.request import EvalRequest

    assert isinstance(pool, WorkerPool)
    started = time.perf_counter()
    result = pool.evaluate(EvalRequest(ref_src=str(ref), custom_src=str(custom), device=device))
    return time.perf_counter() - started, result.phase_s.get("load", 0.0), result.verdict.value


def inner_new(device: str, repeats: int) -> dict[str, object]:
    from kernel_eval.engine.pool import WorkerPool

    work = Path(tempfile.mkdtemp(prefix="kernel-eval-start-bench-"))
    ref = DATA / "sandbox" / "model_relu.py"
    honest = (
        "import torch\nimport torch.nn as nn\n\n\nclass ModelNew(nn.Module):\n    def forward(self, x):\n"
    )
    honest += "        return torch.relu(x)\n"
    starts, firsts, warms, verdicts = [], [], [], []
    with WorkerPool(spares=0) as pool:
        evaluate(pool, ref, _copy(work, "warm", honest), device)
        for index in range(repeats):
            custom = _copy(work, f"new{index}", honest)
            first, new_load, verdict = evaluate(pool, ref, custom, device)
            warm, warm_load, _ = evaluate(pool, ref, custom, device)
            starts.append(new_load - warm_load)
            firsts.append(first)
            warms.append(warm)
            verdicts.append(verdict)
    shutil.rmtree(work, ignore_errors=True)
    return {"starts": starts, "firsts": firsts, "warms": warms, "verdicts": verdicts}


def inner_recovery(device: str, repeats: int) -> dict[str, object]:
    from kernel_eval.engine.pool import WorkerPool

    work = Path(tempfile.mkdtemp(prefix="kernel-eval-recovery-bench-"))
    ref = DATA / "cuda" / "model_ex_add.py"
    good, bad = (DATA / "cuda" / name for name in ("model_new_ex_add.py", "model_new_ex_add_illegal.py"))
    custom = work / "model_new_ex_add.py"
    warm, after, verdicts = [], [], []
    with WorkerPool(spares=1) as pool:
        for _ in range(repeats):
            shutil.copy(good, custom)
            evaluate(pool, ref, custom, device)
            warm.append(evaluate(pool, ref, custom, device)[0])
            shutil.copy(bad, custom)
            verdicts.append(evaluate(pool, ref, custom, device)[2])
            shutil.copy(good, custom)
            after.append(evaluate(pool, ref, custom, device)[0])
    shutil.rmtree(work, ignore_errors=True)
    return {"warm": warm, "after": after, "illegal_verdicts": verdicts}


def _copy(work: Path, name: str, text: str) -> Path:
    path = work / name / "model_new_relu.py"
    path.parent.mkdir(parents=True)
    path.write_text(text)
    return path


def run_inner(kind: str, device: str, repeats: int, template: str) -> dict[str, object]:
    env = dict(os.environ, KERNEL_EVAL_TEMPLATE=template, KERNEL_EVAL_HISTORY="0")
    argv = [sys.executable, __file__, "--inner", kind, "--device", device, "--repeats", str(repeats)]
    before = _children_cpu_s()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{kind} (template={template}) failed:\n{done.stderr[-3000:]}")
    measured: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    measured["cpu_s"] = _children_cpu_s() - before  # every process of the run: each was waited for
    return measured


def _children_cpu_s() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def main() -> None:
    options = simple_parsing.parse(Options)
    if options.inner:
        run = inner_new if options.inner == "new" else inner_recovery
        print(json.dumps(run(options.device, options.repeats)))
        return
    device = options.device or ("cuda:0" if shutil.which("nvidia-smi") else "cpu")
    print(f"device {device}, {options.repeats} repeats, {os.cpu_count()} cores")
    for label, template in (("forked from the template", "1"), ("fresh interpreter", "0")):
        measured = run_inner("new", device, options.repeats, template)
        starts, firsts, warms = measured["starts"], measured["firsts"], measured["warms"]
        assert isinstance(starts, list) and isinstance(firsts, list) and isinstance(warms, list)
        print(
            f"new candidate, {label}: request to able to load: median {statistics.median(starts):.3f} s "
            f"(min {min(starts):.3f}, max {max(starts):.3f}); its first evaluation {statistics.median(firsts):.3f} s "
            f"against {statistics.median(warms):.3f} s warm; whole run {measured['cpu_s']:.1f} CPU s; "
            f"verdicts {sorted(set(map(str, measured['verdicts'])))}",  # type: ignore[call-overload]
            flush=True,
        )
    if device.startswith("cuda"):
        measured = run_inner("recovery", device, options.repeats, "1")
        warm, after = measured["warm"], measured["after"]
        assert isinstance(warm, list) and isinstance(after, list)
        extra = [a - w for w, a in zip(warm, after, strict=True)]
        print(
            f"after an illegal memory access: warm {statistics.median(warm):.3f} s, next evaluation "
            f"{statistics.median(after):.3f} s (median extra {statistics.median(extra):.3f} s, max "
            f"{max(extra):.3f} s); the faulting runs: {sorted(set(map(str, measured['illegal_verdicts'])))}"  # type: ignore[call-overload]
        )


if __name__ == "__main__":
    main()
