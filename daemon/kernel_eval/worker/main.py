"""Worker process entry point: `python -m kernel_eval.worker.main ROLE DEVICE READ_FD WRITE_FD`.

stdout/stderr are the parent's capture file, so nothing the user's code prints (Python, C++ or nvcc) can reach
the parent's stdout; replies travel only over the private pipe.
"""

from __future__ import annotations

import os
import sys
import traceback
from typing import Any


def main(argv: list[str]) -> int:
    role, device, read_fd, write_fd = argv[0], argv[1], int(argv[2]), int(argv[3])
    for fd in (read_fd, write_fd):
        os.set_inheritable(fd, False)  # builds (ninja, nvcc) must not inherit the channel

    import faulthandler
    import signal

    faulthandler.register(signal.SIGUSR1)  # the parent asks for a stack dump before killing a hung worker

    from kernel_eval.protocol import channel
    from kernel_eval.worker.runtime import start_runtime

    runtime = start_runtime(device)
    handler: Any
    if role == "judge":
        from kernel_eval.worker.judge import Judge

        handler = Judge(runtime)
    else:
        from kernel_eval.worker.candidate import Candidate

        handler = Candidate(runtime)
    channel.send(write_fd, {"hello": True, "pid": os.getpid(), **runtime.describe()})
    while True:
        try:
            request = channel.recv(read_fd)
        except channel.ChannelClosed:
            return 0
        reply = _handle(handler, request)
        sys.stdout.flush()
        sys.stderr.flush()
        channel.send(write_fd, reply)


def _handle(handler: Any, request: dict[str, Any]) -> dict[str, Any]:
    from kernel_eval.errors import EvalError
    from kernel_eval.result import Message, Phase, Severity, to_data

    op = request.pop("op")
    try:
        return {"ok": True, **getattr(handler, op)(request)}
    except EvalError as error:
        messages = error.messages
    except BaseException as exc:
        messages = [
            Message(
                Severity.ERROR,
                Phase.LOAD,
                "internal_error",
                f"kernel-eval worker error in {op}: {exc!r}",
                detail=traceback.format_exc(),
            )
        ]
    return {"ok": False, "messages": [to_data(m) for m in messages]}


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
