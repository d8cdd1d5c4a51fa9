"""kernelEval.sandbox: the result says what confined the kernel, and the lens says when nothing did."""

from __future__ import annotations

import pytest
from daemon_client import KernelEvalClient
from pygls.exceptions import JsonRpcException

from kernel_eval.sandbox import landlock


async def test_the_lens_warns_when_the_sandbox_is_turned_off(client: KernelEvalClient):
    client.copy("model_add.py")
    custom = client.copy("model_new_add.py")

    confined = await client.run(custom)
    [lens] = await client.code_lenses(custom)
    assert confined["sandbox"]["mode"] == "auto" and lens.command is not None
    assert "sandbox" not in lens.command.title

    client.set_settings(sandbox="off")
    unconfined = await client.run(custom)
    [lens] = await client.code_lenses(custom)
    assert unconfined["verdict"] == "correct" and unconfined["sandbox"]["mode"] == "off"
    assert lens.command is not None and lens.command.title.startswith("✓ correct · ⚠ sandbox off")
    assert any(m["kind"] == "sandbox_off" for m in unconfined["messages"])


async def test_a_run_may_ask_for_strict_and_a_bad_mode_is_refused(client: KernelEvalClient):
    client.copy("model_add.py")
    custom = client.copy("model_new_add.py")

    strict = await client.run(custom, sandbox="strict")
    with pytest.raises(JsonRpcException) as refused:
        await client.run(custom, sandbox="loose")

    assert strict["sandbox"]["mode"] == "strict"
    if landlock.abi_version() >= 6:  # every protection is there: strict runs it
        assert strict["verdict"] == "correct"
    else:
        assert [m["kind"] for m in strict["messages"] if m["severity"] == "error"] == ["sandbox_unavailable"]
    assert "sandbox must be auto, strict or off" in refused.value.message
