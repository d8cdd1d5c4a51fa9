"""kernelEval/run with paths or a device that cannot work: the CLI's answers, as a RequestFailed error, before any
worker is asked and without a diagnostic on a file that does not exist."""

from __future__ import annotations

import pytest
from daemon_client import KernelEvalClient
from pygls.exceptions import JsonRpcException

REQUEST_FAILED = -32803


async def failure(client: KernelEvalClient, **params: object) -> str:
    with pytest.raises(JsonRpcException) as failed:
        await client.protocol.send_request_async("kernelEval/run", params)
    assert failed.value.code == REQUEST_FAILED
    return failed.value.message


async def test_missing_custom_file_is_no_such_file_and_publishes_nothing(client: KernelEvalClient):
    missing = client.workspace / "model_new_gone.py"
    message = await failure(client, customUri=missing.as_uri())
    assert message.startswith(f"no such custom file: {missing}; fix: check the path")
    assert message.endswith("or pass customUri with the right one")
    assert "no reference found" not in message
    assert missing.as_uri() not in client.diagnostics


async def test_missing_reference_file_is_no_such_file(client: KernelEvalClient):
    custom = client.copy("model_new_add.py")
    missing = client.workspace / "nowhere.py"
    message = await failure(client, customUri=custom.as_uri(), refUri=missing.as_uri())
    assert message.startswith(f"no such reference file: {missing}; fix: ")
    assert missing.as_uri() not in client.diagnostics


async def test_directory_as_custom_file(client: KernelEvalClient):
    message = await failure(client, customUri=client.workspace.as_uri())
    assert message.startswith("the custom path is a directory, not a file: ")
    assert "pass customUri with the .py file inside it" in message


async def test_unknown_device(client: KernelEvalClient):
    client.copy("model_add.py")
    custom = client.copy("model_new_add.py")
    message = await failure(client, customUri=custom.as_uri(), device="gpu7")
    assert (
        message
        == 'unknown device \'gpu7\'; fix: use "cpu", "cuda" (the first GPU) or "cuda:N" (GPU number N, from 0)'
    )


async def test_entry_point_that_is_not_callable_is_shown_at_its_line(client: KernelEvalClient):
    client.copy("model_add.py")
    custom = client.workspace / "model_new_add.py"
    custom.write_text("import torch\n\nModelNew = 42\n")
    result = await client.run(custom)
    assert result["verdict"] == "error"
    [diagnostic] = client.diagnostics_for(custom)
    assert diagnostic.range.start.line == 2
    assert "ModelNew is an int (42), not a class: it cannot make a model" in diagnostic.message
