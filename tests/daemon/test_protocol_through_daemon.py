"""Cancel and time out every phase (load, build, check, time) through the real daemon: the worker that owed a
reply is killed, and the next evaluation of a good kernel is correct."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest
from daemon_client import KernelEvalClient, wait_until
from lsprotocol import types
from pygls.exceptions import JsonRpcRequestCancelled

CPU_DATA = Path(__file__).resolve().parents[1] / "test_data" / "cpu"
# phase -> (reference, custom) whose evaluation hangs in that phase
HANGS_IN = {
    "load": ("model_slow_init.py", "model_new_add.py"),
    "build": ("model_add.py", "model_new_slow_build.py"),
    "check": ("model_add.py", "model_new_hang.py"),
    "time": ("model_add.py", "model_new_slow_timing.py"),
}


def copy_pair(client: KernelEvalClient, ref: str, custom: str, folder: str) -> tuple[Path, Path]:
    target = client.workspace / folder
    target.mkdir(exist_ok=True)
    return Path(shutil.copy(CPU_DATA / ref, target)), Path(shutil.copy(CPU_DATA / custom, target))


async def run(client: KernelEvalClient, ref: Path, custom: Path, msg_id: str | None = None) -> dict:
    return await client.run(custom, msg_id=msg_id, refUri=ref.as_uri(), measurePerformance=True)


async def assert_next_is_correct(client: KernelEvalClient) -> None:
    ref, custom = copy_pair(client, "model_add.py", "model_new_add.py", "good")
    result = await run(client, ref, custom)
    assert result["verdict"] == "correct", result["headline"]


@pytest.mark.parametrize("phase", list(HANGS_IN))
async def test_cancel_in_every_phase_then_the_next_evaluation_is_correct(
    client: KernelEvalClient, phase: str
):
    ref, custom = copy_pair(client, *HANGS_IN[phase], "hangs")
    pending = asyncio.ensure_future(run(client, ref, custom, msg_id=f"hang-{phase}"))
    await wait_until(
        lambda: any(n["phase"] == phase for n in client.evaluating_for(custom)), what=f"the {phase} phase"
    )
    await asyncio.sleep(1.0)
    client.cancel_request(types.CancelParams(id=f"hang-{phase}"))
    with pytest.raises(JsonRpcRequestCancelled):
        await asyncio.wait_for(pending, 20)
    await assert_next_is_correct(client)


@pytest.mark.parametrize("phase", list(HANGS_IN))
async def test_timeout_in_every_phase_then_the_next_evaluation_is_correct(
    client: KernelEvalClient, phase: str
):
    client.set_settings(device="cpu", measurePerformance=False, timeout=8, buildTimeout=6)
    ref, custom = copy_pair(client, *HANGS_IN[phase], "hangs")
    result = await asyncio.wait_for(run(client, ref, custom), 60)
    assert result["verdict"] == "error"
    [error] = [m for m in result["messages"] if m["severity"] == "error"]
    assert (error["kind"], error["phase"]) == ("timeout", phase)
    client.set_settings(timeout=300, buildTimeout=1800)  # the next, good kernel gets the usual time
    await assert_next_is_correct(client)
