"""What the daemon adds on top of an evaluation, measured through LSP over stdio like an editor sees it.

    python benchmarks/daemon_latency.py [--runs 20] [--saves 10] [--device cpu]

1. `kernelEval/run` on an unchanged kernel: client round trip minus the engine's own `result.duration_s`
   (JSON-RPC, reference discovery, progress create/begin/report/end, notifications, thread hand-off).
   Target: <= 50 ms.
2. Save -> `textDocument/publishDiagnostics` on a warm worker: from `didSave` to the diagnostics of that
   evaluation (includes the 200 ms save debounce). Target: <= 0.5 s.

Uses the CUDA add example when CUDA is present, else the Triton add example on the CPU (interpreter); the files
are copied to a temporary folder so that saves can rewrite them. Timing is off (measurePerformance false) so
that the evaluation itself stays short; the overhead measured does not depend on it.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import simple_parsing
from lsprotocol import types
from pygls.lsp.client import LanguageClient
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
CUDA_PAIR = ("tests/test_data/cuda/model_ex_add.py", "tests/test_data/cuda/model_new_ex_add.py")
CPU_PAIR = ("examples/triton_add/model_add.py", "examples/triton_add/model_new_add.py")
OVERHEAD_TARGET_S = 0.050
SAVE_TARGET_S = 0.5


@dataclass
class Options:
    runs: int = 20  # kernelEval/run round trips timed (after one that warms workers and the build cache)
    saves: int = 10  # save -> diagnostics cycles timed
    device: str = ""  # "" = cuda:0 when present, else cpu


def cuda_present() -> bool:
    probe = "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"
    return subprocess.run([sys.executable, "-c", probe]).returncode == 0


class BenchmarkClient(LanguageClient):
    """Answers what an editor answers (progress create, code lens refresh) and timestamps diagnostics."""

    def __init__(self) -> None:
        super().__init__("daemon-latency", "1")
        self.diagnostics_at: dict[str, list[float]] = {}

        @self.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        def on_diagnostics(client: BenchmarkClient, params: types.PublishDiagnosticsParams) -> None:
            client.diagnostics_at.setdefault(params.uri, []).append(time.perf_counter())

        @self.feature(types.WINDOW_WORK_DONE_PROGRESS_CREATE)
        def on_progress_create(client: BenchmarkClient, params: types.WorkDoneProgressCreateParams) -> None:
            return None

        @self.feature(types.WORKSPACE_CODE_LENS_REFRESH)
        def on_code_lens_refresh(client: BenchmarkClient, params: None) -> None:
            return None

        for method in (
            types.PROGRESS,
            types.WINDOW_LOG_MESSAGE,
            "kernelEval/result",
            "kernelEval/evaluating",
        ):
            self.feature(method)(lambda client, params: None)


async def measure(options: Options) -> tuple[list[float], list[float], list[float], str, str]:
    cuda = cuda_present() if not options.device else options.device.startswith("cuda")
    ref_src, custom_src = CUDA_PAIR if cuda else CPU_PAIR
    device = options.device or ("cuda:0" if cuda else "cpu")
    workspace = Path(tempfile.mkdtemp(prefix="kernel-eval-daemon-bench-"))
    custom = workspace / "model_new_add.py"
    shutil.copy(ROOT / ref_src, workspace / "model_add.py")
    shutil.copy(ROOT / custom_src, custom)
    uri = custom.as_uri()

    client = BenchmarkClient()
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT / "daemon"), os.environ.get("PYTHONPATH")])),
    )
    await client.start_io(sys.executable, "-m", "kernel_eval.lsp", "--log-level", "WARNING", env=env)
    capabilities = types.ClientCapabilities(
        window=types.WindowClientCapabilities(work_done_progress=True),
        workspace=types.WorkspaceClientCapabilities(
            code_lens=types.CodeLensWorkspaceClientCapabilities(True)
        ),
    )
    await client.initialize_async(
        types.InitializeParams(
            capabilities=capabilities,
            root_uri=workspace.as_uri(),
            initialization_options={"kernelEval": {"device": device, "measurePerformance": False}},
        )
    )
    client.initialized(types.InitializedParams())
    try:
        first = await client.protocol.send_request_async("kernelEval/run", {"customUri": uri})
        assert first.verdict == "correct", first
        round_trips, durations = [], []
        for _ in range(options.runs):
            started = time.perf_counter()
            result: Any = await client.protocol.send_request_async("kernelEval/run", {"customUri": uri})
            round_trips.append(time.perf_counter() - started)
            durations.append(result.duration_s)
        save_latencies = []
        for _ in range(options.saves):
            seen = len(client.diagnostics_at.get(uri, []))
            os.utime(custom)
            started = time.perf_counter()
            client.text_document_did_save(
                types.DidSaveTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
            )
            while len(client.diagnostics_at.get(uri, [])) <= seen:
                await asyncio.sleep(0.001)
            save_latencies.append(client.diagnostics_at[uri][seen] - started)
            await asyncio.sleep(0.1)
        await client.shutdown_async(None)
        client.exit(None)
    finally:
        await client.stop()
        shutil.rmtree(workspace, ignore_errors=True)
    return round_trips, durations, save_latencies, custom_src, device


def row(name: str, values: list[float], target_s: float) -> list[str]:
    median = statistics.median(values)
    p90 = sorted(values)[max(0, round(0.9 * len(values)) - 1)]
    verdict = "[green]ok[/green]" if median <= target_s else "[red]over[/red]"
    cells = [f"{v * 1000:.1f}" for v in (median, p90, max(values))]
    return [name, str(len(values)), *cells, f"≤ {target_s * 1000:.0f}", verdict]


def main() -> None:
    options = simple_parsing.parse(Options)
    round_trips, durations, saves, example, device = asyncio.run(measure(options))
    overheads = [rt - d for rt, d in zip(round_trips, durations, strict=True)]
    table = Table(title=f"kernel-eval daemon latency — {example} on {device}")
    for column in ("measure", "n", "median ms", "p90 ms", "max ms", "target ms", ""):
        table.add_column(column, justify="left" if column in ("measure", "") else "right")
    table.add_row(*row("kernelEval/run round trip", round_trips, float("inf"))[:5], "", "")
    table.add_row(*row("  of which evaluation (result.duration_s)", durations, float("inf"))[:5], "", "")
    table.add_row(*row("daemon overhead (round trip − evaluation)", overheads, OVERHEAD_TARGET_S))
    table.add_row(*row("save → publishDiagnostics (warm worker)", saves, SAVE_TARGET_S))
    Console(width=140).print(table)


if __name__ == "__main__":
    main()
