"""Fixtures: a fresh daemon per test, its workspace a tmp folder, evaluating on the CPU."""

from __future__ import annotations

from pathlib import Path

import pytest
import pytest_lsp
from daemon_client import CONFIG, CPU_SETTINGS, KernelEvalClient, has_cuda, shutdown_if_running, start_session


@pytest_lsp.fixture(config=CONFIG)
async def client(lsp_client: KernelEvalClient, tmp_path: Path):
    await start_session(lsp_client, tmp_path, CPU_SETTINGS)
    yield
    await shutdown_if_running(lsp_client)


@pytest_lsp.fixture(config=CONFIG)
async def gpu_client(lsp_client: KernelEvalClient, tmp_path: Path):
    if not has_cuda():
        pytest.skip("needs a CUDA GPU")
    await start_session(lsp_client, tmp_path, {"device": "cuda:0", "measurePerformance": True})
    yield
    await shutdown_if_running(lsp_client)
