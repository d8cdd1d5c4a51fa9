"""Worker process entry point: `python -m kernel_eval.worker.main ROLE DEVICE READ_FD WRITE_FD PARENT_PID`.

stdout/stderr are the parent's capture file, so nothing the user's code prints (Python, C++ or nvcc) can reach
the parent's stdout. Replies travel only over the private pipe. A worker never outlives its parent: it exits when
its channel closes, and a watchdog kills its whole process group (builds included) once the parent is gone.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from kernel_eval.protocol.messages import Envelope, Reply
    from kernel_eval.protocol.routes import Routes
    from kernel_eval.worker.runtime import Runtime

PARENT_POLL_S = 0.1
# a folder: each request's cProfile stats land there (for developers)
PROFILE_ENV = "KERNEL_EVAL_WORKER_PROFILE"

# the worker's API: the judge's or the candidate's (kernel_eval.protocol.judge, kernel_eval.protocol.candidate)
Api = TypeVar("Api")


def main(argv: list[str]) -> int:
    role, device = argv[0], argv[1]
    read_fd, write_fd, parent_pid = int(argv[2]), int(argv[3]), int(argv[4])
    for fd in (read_fd, write_fd):
        os.set_inheritable(fd, False)  # builds (ninja, nvcc) must not inherit the channel

    from kernel_eval.sandbox import confine, privileges

    confine.at_start()  # first, while this is the only thread: every later thread inherits it
    if role == "judge":
        privileges.make_undumpable()  # it holds the reference's outputs: no process reads its memory
    _start_sentinel(read_fd, write_fd)  # before any thread: a fork copies only the thread that calls it
    _die_with_parent(parent_pid)

    import faulthandler

    faulthandler.register(signal.SIGUSR1)  # the parent asks for a stack dump before killing a hung worker

    from kernel_eval import import_line
    from kernel_eval.protocol import channel
    from kernel_eval.protocol.messages import HELLO_ID, Envelope, Reply
    from kernel_eval.result import from_data, to_data
    from kernel_eval.stages.load import warm_module_paths
    from kernel_eval.worker import arena
    from kernel_eval.worker.runtime import idle_warm_ups, start_runtime

    import_line.record_imports()  # the parent reads the line a dying import was running
    runtime = start_runtime(device)
    answer = _judge(runtime) if role == "judge" else _candidate(runtime)
    warm_module_paths()  # before the hello: a spare does it while idle, not in an evaluation's first load
    channel.send(write_fd, to_data(Reply(HELLO_ID, to_data(runtime.hello()))))
    warm_ups = idle_warm_ups(runtime, judge=role == "judge")
    while True:
        while warm_ups and not select.select([read_fd], [], [], 0)[0]:
            with contextlib.suppress(Exception):  # a quicker first use, no more: never worth the worker
                warm_ups.pop(0)()
        try:
            envelope = from_data(channel.recv(read_fd), Envelope)
        except channel.ChannelClosed:
            return 0
        arena.new_request()
        reply = _profiled(answer, envelope) if os.environ.get(PROFILE_ENV) else answer(envelope)
        sys.stdout.flush()
        sys.stderr.flush()
        channel.send(write_fd, to_data(reply))


def _judge(runtime: Runtime) -> Callable[[Envelope], Reply]:
    """The judge's answer to each request."""
    from kernel_eval.protocol.judge import JUDGE_ROUTES
    from kernel_eval.worker.judge import Judge

    judge = Judge(runtime)
    return lambda envelope: _handle(judge, JUDGE_ROUTES, envelope)


def _candidate(runtime: Runtime) -> Callable[[Envelope], Reply]:
    """The candidate's answer to each request."""
    from kernel_eval.protocol.candidate import CANDIDATE_ROUTES
    from kernel_eval.worker.candidate import Candidate

    candidate = Candidate(runtime)
    return lambda envelope: _handle(candidate, CANDIDATE_ROUTES, envelope)


def _handle(api: Api, routes: Routes[Api], envelope: Envelope) -> Reply:
    """The reply to one request: what `api`'s handler for it returned, or the error messages. A request for a
    method of the other worker gets an internal error, as a failure of the handler does."""
    from kernel_eval.errors import EvalError
    from kernel_eval.kinds import MessageKind
    from kernel_eval.protocol.messages import Reply
    from kernel_eval.result import Message, Phase, Severity, from_data, to_data

    try:
        route = routes[envelope.method]
        params = from_data(envelope.params, route.params)
        return Reply(envelope.id, result=to_data(route.answer(api, params)))
    except EvalError as error:
        messages = error.messages
    except BaseException as exc:
        messages = [
            Message(
                Severity.ERROR,
                Phase.LOAD,
                MessageKind.INTERNAL_ERROR,
                f"kernel-eval worker error in {envelope.method}: {exc!r}",
                detail=traceback.format_exc(),
            )
        ]
    return Reply(envelope.id, error=messages)


def _profiled(answer: Callable[[Envelope], Reply], envelope: Envelope) -> Reply:
    import cProfile

    profile = cProfile.Profile()
    started = time.perf_counter()
    reply = profile.runcall(answer, envelope)
    spent_ms = (time.perf_counter() - started) * 1000
    name = f"{os.getpid()}-{envelope.id:04d}-{envelope.method}-{spent_ms:.0f}ms.prof"
    profile.dump_stats(os.path.join(os.environ[PROFILE_ENV], name))
    return reply


def _start_sentinel(read_fd: int, write_fd: int) -> None:
    """A small process of this worker's group that kills the group the moment the parent's end of the channel
    closes (the parent exited or was killed): it blocks in poll, so no busy interpreter delays it."""
    if os.fork() != 0:
        return
    try:
        os.close(write_fd)  # the worker's death must still close its reply channel for the parent
        poller = select.poll()
        poller.register(read_fd, 0)  # hang-up only: the requests on it are the worker's to read
        while True:
            for _, event in poller.poll():
                if event & (select.POLLHUP | select.POLLERR | select.POLLNVAL):
                    os.killpg(os.getpgid(0), signal.SIGKILL)
    finally:
        os._exit(0)


def _die_with_parent(engine_pid: int) -> None:
    """Once the process that started this worker is gone (re-parented to init or a subreaper), or the engine is,
    kill this worker's process group. The starter is the engine, or the template the engine forks workers from."""
    starter = os.getppid()

    def engine_alive() -> bool:
        try:
            os.kill(engine_pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # outside this sandbox's signal scope: it exists
            return True
        return True

    def watch() -> None:
        while os.getppid() == starter and engine_alive():
            time.sleep(PARENT_POLL_S)
        os.killpg(os.getpgid(0), signal.SIGKILL)

    threading.Thread(target=watch, name="kernel-eval-parent-watchdog", daemon=True).start()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
