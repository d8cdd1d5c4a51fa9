"""Shared fixtures: paths, the CLI as a real subprocess, one warm WorkerPool per session, the gpu marker."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import servers

from kernel_eval.engine.pool import WorkerPool

REPO_ROOT = Path(__file__).resolve().parent.parent
CLI_TIMEOUT_S = 600
# On a GPU machine each CUDA build takes about a minute: gpu_session.sh shares one prefix across tests and runs.
SHARED_BUILD_PREFIX_ENV = "KERNEL_EVAL_TEST_BUILD_PREFIX"


def _cuda_available() -> bool:
    import torch

    return bool(torch.cuda.is_available())


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    gpu_items = [item for item in items if item.get_closest_marker("gpu")]
    if gpu_items and not _cuda_available():
        skip = pytest.mark.skip(reason="needs a CUDA GPU")
        for item in gpu_items:
            item.add_marker(skip)


@pytest.fixture(scope="session", autouse=True)
def private_history(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Evaluations in tests (CLI, daemon, batch) record to a throwaway history, never the user's own."""
    data_home = tmp_path_factory.mktemp("xdg-data")
    saved = os.environ.get("XDG_DATA_HOME")
    os.environ["XDG_DATA_HOME"] = str(data_home)
    yield data_home
    if saved is None:
        os.environ.pop("XDG_DATA_HOME", None)
    else:
        os.environ["XDG_DATA_HOME"] = saved


@pytest.fixture(scope="session", autouse=True)
def private_servers() -> Iterator[Path]:
    """CLI calls in tests start their servers in a throwaway runtime folder, never reach the user's own, and every
    server they started is stopped at the end."""
    runtime = servers.runtime_dir()
    saved = os.environ.get("XDG_RUNTIME_DIR")
    os.environ["XDG_RUNTIME_DIR"] = str(runtime)
    yield runtime
    servers.stop_servers(runtime)
    shutil.rmtree(runtime, ignore_errors=True)
    if saved is None:
        os.environ.pop("XDG_RUNTIME_DIR", None)
    else:
        os.environ["XDG_RUNTIME_DIR"] = saved


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return REPO_ROOT / "tests" / "test_data"


@pytest.fixture
def run_cli(tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run `python scripts/run_and_check.py ARGS` as a user would; a fresh build prefix per test unless given."""

    def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
        argv = [str(a) for a in args]
        if not any(a in ("--build_dir_prefix", "--build-dir-prefix") for a in argv):
            argv += ["--build_dir_prefix", os.environ.get(SHARED_BUILD_PREFIX_ENV) or str(tmp_path / "build")]
        return subprocess.run(
            [sys.executable, str(REPO_ROOT / "scripts" / "run_and_check.py"), *argv],
            cwd=REPO_ROOT,
            env=servers.cli_env(),
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT_S,
        )

    return run


@pytest.fixture(scope="session")
def pool() -> Iterator[WorkerPool]:
    """One warm WorkerPool shared by the whole session, as the daemon keeps one."""
    workers = WorkerPool()
    try:
        yield workers
    finally:
        workers.close()


@pytest.fixture(scope="session")
def build_prefix(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A build prefix shared by the session's pool evaluations (an extension is built once per session)."""
    shared = os.environ.get(SHARED_BUILD_PREFIX_ENV)
    return Path(shared) if shared else tmp_path_factory.mktemp("build")
