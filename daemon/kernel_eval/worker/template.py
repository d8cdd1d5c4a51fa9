"""The template process: torch, Triton and the evaluator imported once, no CUDA context, one thread. Every worker
and build process is a fork of it, so a new one costs its own CUDA start, not 5-10 s of a core importing.

Run as `python -m kernel_eval.worker.template CONTROL_FD` by engine/template.py, with the allow-listed environment
(no secret: whatever it holds, every child inherits) and one OpenMP thread. It never runs user code. A child closes
the control socket before anything else, so nothing forked can ask the template for anything; it takes the
environment, folder and descriptors its Fork names, restores the dumpable flag and thread count a fresh process
would have, then runs its entry point, which confines it first (sandbox/confine.py). What a child does to the memory
it inherited stays in its own copy. Landlock keeps it from signalling or tracing the template, and the template is
undumpable for processes without Landlock. It lives as long as the engine's end of the control socket: when that
closes, it kills its children and exits.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import os
import select
import signal
import socket
import sys
import time
import traceback

from kernel_eval.protocol import template as messages
from kernel_eval.protocol.template import FORKABLE, MAX_FDS, MAX_PACKET, Exited, Fork, Forked, TemplateReady

HIGH_FD = 512
"""Received descriptors are first moved above this, so placing one cannot overwrite another."""
SINGLE_THREAD_WAIT_S = 5.0


def main(argv: list[str]) -> int:
    started = time.perf_counter()
    control = socket.socket(fileno=int(argv[0]))
    control.set_inheritable(False)
    from kernel_eval.sandbox import privileges

    privileges.make_undumpable()
    import_everything()
    threads = wait_single_threaded()
    ready = TemplateReady(os.getpid(), threads, round(time.perf_counter() - started, 3))
    try:
        control.send(messages.encode(ready))
        return serve(control)
    except (BrokenPipeError, ConnectionResetError):
        return 0  # the engine left (it is exiting, a batch stopped) between a request and its answer


def import_everything() -> None:
    """What a worker imports before its first request, short of anything that starts CUDA or a thread."""
    import torch

    # its import asks torch.cuda.is_available(), which initialises CUDA: a forked child could then never use it
    available = torch.cuda.is_available
    torch.cuda.is_available = lambda: True
    try:
        import torch.utils.cpp_extension
    finally:
        torch.cuda.is_available = available
    with contextlib.suppress(ImportError):
        import triton
        import triton.language  # noqa: F401
    import torch.profiler

    from kernel_eval.stages.load import warm_module_paths
    from kernel_eval.worker import build_only, candidate, judge, main, runtime  # noqa: F401

    warm_module_paths()
    # what is here now stays out of the collector's reach: a child's collections then neither walk it (80 ms) nor
    # copy the pages they touch (about 38 MB of each child's memory)
    gc.collect()
    gc.freeze()


def thread_count() -> int:
    return len(os.listdir("/proc/self/task"))


def wait_single_threaded() -> int:
    """A fork copies only the calling thread: another one could hold a lock the child then waits on forever."""
    deadline = time.monotonic() + SINGLE_THREAD_WAIT_S
    while thread_count() > 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    return thread_count()


def serve(control: socket.socket) -> int:
    """Fork what the engine asks for and report each child's exit, until the engine closes the socket (or leaves
    while an answer is on its way: the caller's BrokenPipeError)."""
    wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda signum, frame: None)
    children: set[int] = set()
    poller = select.poll()
    poller.register(control, select.POLLIN)
    poller.register(wake_r, select.POLLIN)
    try:
        while True:
            for fd, _ in poller.poll():
                if fd == wake_r:
                    with contextlib.suppress(BlockingIOError):
                        os.read(wake_r, 4096)
                    _reap(control, children)
                    continue
                packet, fds, _, _ = socket.recv_fds(control, MAX_PACKET, MAX_FDS)
                if not packet:
                    return 0
                fork = messages.decode(packet)
                assert isinstance(fork, Fork)
                answer = _fork(fork, fds, control, (wake_r, wake_w))
                for received in fds:
                    os.close(received)
                if answer.pid:
                    children.add(answer.pid)
                control.send(messages.encode(answer))
    finally:
        for pid in children:  # the engine is gone: so are its workers
            with contextlib.suppress(OSError):
                os.killpg(pid, signal.SIGKILL)


def _reap(control: socket.socket, children: set[int]) -> None:
    while children:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        children.discard(pid)
        control.send(messages.encode(Exited(pid, os.waitstatus_to_exitcode(status))))


def _fork(fork: Fork, fds: list[int], control: socket.socket, wake: tuple[int, int]) -> Forked:
    if fork.module not in FORKABLE:
        return Forked(fork.id, error=f"{fork.module} is not a forkable entry point")
    if len(fds) != len(fork.fds):
        return Forked(fork.id, error=f"{len(fds)} descriptors arrived for {len(fork.fds)} places")
    threads = thread_count()
    if threads > 1:
        return Forked(fork.id, error=f"the template has {threads} threads")
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        _child(fork, fds, control, wake)
    return Forked(fork.id, pid=pid)


def _child(fork: Fork, fds: list[int], control: socket.socket, wake: tuple[int, int]) -> None:
    """In the forked child: become the process the Fork describes, then run its entry point. Never returns."""
    code = 1
    try:
        control.close()
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        for fd in wake:
            os.close(fd)
        os.setsid()
        _name_process(process_name(fork.module, fork.argv))
        _place(fds, fork.fds)
        os.environ.clear()
        os.environ.update(fork.env)
        os.chdir(fork.cwd)
        _as_if_fresh()
        sys.argv = [fork.module, *fork.argv]
        code = importlib.import_module(fork.module).main(fork.argv)
    except SystemExit as exit:
        code = exit.code if isinstance(exit.code, int) else 1
    except BaseException:
        traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def process_name(module: str, argv: list[str]) -> str:
    """What `ps` and /proc/PID/comm show for a forked child, whose command line stays the template's."""
    return f"ke-{argv[0]}" if module == "kernel_eval.worker.main" and argv else "ke-build"


def _name_process(name: str) -> None:
    import ctypes

    pr_set_name = 15
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_name, name.encode()[:15], 0, 0, 0)


def _place(received: list[int], targets: list[int]) -> None:
    """Give the received descriptors the numbers the Fork names, stdin /dev/null unless named, and close every
    other descriptor the template had."""
    high = [os.dup(fd) if fd >= HIGH_FD else _dup_above(fd) for fd in received]
    for fd in received:
        os.close(fd)
    for fd, target in zip(high, targets, strict=True):
        os.dup2(fd, target, inheritable=True)
        os.close(fd)
    if 0 not in targets:
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
    start = 0
    for fd in [*sorted({0, 1, 2, *targets}), os.sysconf("SC_OPEN_MAX")]:
        if start < fd:  # os.closerange(n, n) would close everything from n on
            os.closerange(start, fd)
        start = fd + 1


def _dup_above(fd: int) -> int:
    import fcntl

    return fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, HIGH_FD)


def _as_if_fresh() -> None:
    """What a freshly started process would have: dumpable (the judge makes itself undumpable again), and the
    intra-op threads its environment asks for (the template runs on one)."""
    import torch

    from kernel_eval.sandbox import privileges

    privileges.make_dumpable()
    wanted = os.environ.get("OMP_NUM_THREADS", "")
    torch.set_num_threads(
        int(wanted) if wanted.isdigit() and int(wanted) > 0 else len(os.sched_getaffinity(0))
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
