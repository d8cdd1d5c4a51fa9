"""A pytest-lsp client for the real daemon (`python -m kernel_eval.lsp`) over stdio."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.protocol import default_converter
from pytest_lsp import ClientServerConfig, LanguageClient, LanguageClientProtocol, client_capabilities
from pytest_lsp.client import register_lsp_features

from kernel_eval.lsp.methods import plain
from kernel_eval.stages.compile import cache

REPO = Path(__file__).resolve().parents[2]
DATA = Path(__file__).resolve().parent / "data"
CPU_SETTINGS = {"device": "cpu", "measurePerformance": False}


def has_cuda() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


class KernelEvalClient(LanguageClient):
    """A test client that also records kernel-eval's own notifications and code lens refreshes."""

    def __init__(self) -> None:
        super().__init__(protocol_cls=LanguageClientProtocol, converter_factory=default_converter)
        register_lsp_features(self)
        self.results: list[dict[str, Any]] = []
        self.evaluating: list[dict[str, Any]] = []
        self.code_lens_refreshes = 0
        self.workspace = Path()
        self.server_capabilities: types.ServerCapabilities | None = None

        @self.feature("kernelEval/result")
        def on_result(client: KernelEvalClient, params: Any) -> None:
            client.results.append(plain(params))

        @self.feature("kernelEval/evaluating")
        def on_evaluating(client: KernelEvalClient, params: Any) -> None:
            client.evaluating.append(plain(params))

        @self.feature(types.WORKSPACE_CODE_LENS_REFRESH)
        def on_code_lens_refresh(client: KernelEvalClient, params: None) -> None:
            client.code_lens_refreshes += 1

    def copy(self, name: str, as_name: str | None = None, folder: Path | None = None) -> Path:
        """Copy tests/daemon/data/<name> into the workspace; returns the copy."""
        target = (folder or self.workspace) / (as_name or name)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(DATA / name, target)
        return target

    async def run(self, path: Path, msg_id: str | None = None, **params: Any) -> dict[str, Any]:
        """kernelEval/run; returns the result as plain JSON."""
        result = await self.protocol.send_request_async(
            "kernelEval/run", {"customUri": path.as_uri(), **params}, msg_id=msg_id
        )
        return plain(result)

    def save(self, path: Path, text: str | None = None) -> None:
        if text is not None:
            path.write_text(text)
        self.text_document_did_save(
            types.DidSaveTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=path.as_uri()))
        )

    def open(self, path: Path) -> None:
        self.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(
                    uri=path.as_uri(), language_id="python", version=1, text=path.read_text()
                )
            )
        )

    def change(self, path: Path, text: str, version: int = 2) -> None:
        """What an editor sends while the user types: the whole new (unsaved) text."""
        self.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=path.as_uri(), version=version),
                content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)],
            )
        )

    def results_for(self, path: Path) -> list[dict[str, Any]]:
        return [n["result"] for n in self.results if n["uri"] == path.as_uri()]

    def evaluating_for(self, path: Path) -> list[dict[str, Any]]:
        return [n for n in self.evaluating if n["uri"] == path.as_uri()]

    def diagnostics_for(self, path: Path) -> list[types.Diagnostic]:
        return list(self.diagnostics.get(path.as_uri(), []))

    async def code_lenses(self, path: Path) -> list[types.CodeLens]:
        lenses = await self.text_document_code_lens_async(
            types.CodeLensParams(text_document=types.TextDocumentIdentifier(uri=path.as_uri()))
        )
        return list(lenses or [])

    def set_settings(self, **settings: Any) -> None:
        self.workspace_did_change_configuration(
            types.DidChangeConfigurationParams(settings={"kernelEval": settings})
        )


async def wait_until(condition: Callable[[], Any], timeout: float = 60.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


def started_marker(slow: Path) -> Path | None:
    """Where model_new_add_slow.py says it started: its build folder, the one place the sandbox lets it write."""
    return next(cache.file_dir(cache.default_prefix(), str(slow)).glob("*/started.pid"), None)


def server_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO / "daemon"), env.get("PYTHONPATH", "")) if p)
    return env


CONFIG = ClientServerConfig(
    server_command=[sys.executable, "-m", "kernel_eval.lsp"],
    server_env=server_env(),
    client_factory=KernelEvalClient,
)


async def start_session(client: KernelEvalClient, workspace: Path, settings: dict[str, Any]) -> None:
    client.workspace = workspace
    response = await client.initialize_session(
        types.InitializeParams(
            capabilities=client_capabilities("visual-studio-code"),
            root_uri=workspace.as_uri(),
            workspace_folders=[types.WorkspaceFolder(uri=workspace.as_uri(), name=workspace.name)],
            initialization_options={"kernelEval": settings},
        )
    )
    client.server_capabilities = response.capabilities


async def shutdown_if_running(client: KernelEvalClient) -> None:
    server = client._server
    if not client.stopped and server is not None and server.returncode is None:
        await client.shutdown_session()
