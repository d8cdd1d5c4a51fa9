"""A correct ReLU whose import tries every escape the sandbox must deny, and prints what happened."""

import ctypes
import importlib.util
import json
import os
import socket
import subprocess
from pathlib import Path

import torch
import torch.nn as nn

HERE = Path(__file__).resolve().parent
SETUP = json.loads((HERE / "probe_setup.json").read_text())  # written by the test: ports, names, paths
HOME = Path(os.path.expanduser("~"))


def workers(role):
    found = []
    for entry in os.listdir("/proc"):
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
            name = Path(f"/proc/{entry}/comm").read_text().strip()
        except OSError:
            continue
        fresh = b"kernel_eval.worker.main" in cmdline and role.encode() in cmdline
        if (fresh or name == f"ke-{role}") and int(entry) != os.getpid():  # ke-ROLE: forked from the template
            found.append(int(entry))
    return found


JUDGE = (workers("judge") or [0])[0]  # none found: pid 0, and the escapes at it are not "denied"


def write(path):
    Path(path).write_text("written by the code under test")


def connect_tcp():
    socket.create_connection(("127.0.0.1", SETUP["tcp_port"]), timeout=2).close()


def listen_tcp():
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen()


def send_udp():
    socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"x", ("127.0.0.1", SETUP["udp_port"]))


def connect_abstract():
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    client.connect("\0" + SETUP["abstract_name"])


def secret_env():
    leaked = [name for name in SETUP["secret_names"] if name in os.environ]
    if leaked:
        return leaked
    raise PermissionError("not in the environment")


def ptrace(pid):
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.ptrace(16, pid, 0, 0) != 0:  # PTRACE_ATTACH
        raise PermissionError(ctypes.get_errno(), "ptrace")


def inherited_socket():
    """The template's control socket, or any other socket this process did not open itself."""
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}").startswith("socket:"):
                socket.socket(fileno=os.dup(int(fd))).send(b"{}")
                return
        except OSError:
            continue
    raise PermissionError("no socket inherited")


def child_writes_home():
    done = subprocess.run(["sh", "-c", f"echo x > {HOME / 'child.txt'}"], capture_output=True)
    if done.returncode != 0:
        raise PermissionError(done.stderr.decode().strip())


ESCAPES = {
    "write_evaluator": lambda: write(Path(importlib.util.find_spec("kernel_eval").origin).parent / "probe.py"),
    "write_reference_folder": lambda: write(HERE / "model_relu_copy.py"),
    "write_home": lambda: write(HOME / "probe.txt"),
    "write_tmp": lambda: write(f"/tmp/kernel-eval-probe-{os.getpid()}"),
    "read_home_secret": lambda: (HOME / ".ssh" / "id_rsa").read_text(),
    "secret_env": secret_env,
    "signal_judge": lambda: os.kill(JUDGE, 0),
    "signal_parent": lambda: os.kill(os.getppid(), 0),
    "judge_environ": lambda: Path(f"/proc/{JUDGE}/environ").read_bytes(),
    "judge_memory": lambda: open(f"/proc/{JUDGE}/mem", "rb").close(),
    "parent_environ": lambda: Path(f"/proc/{os.getppid()}/environ").read_bytes(),
    "ptrace_judge": lambda: ptrace(JUDGE),
    "ptrace_parent": lambda: ptrace(os.getppid()),
    "parent_memory": lambda: open(f"/proc/{os.getppid()}/mem", "r+b").close(),
    "inherited_socket": inherited_socket,
    "tcp_connect": connect_tcp,
    "tcp_listen": listen_tcp,
    "udp_send": send_udp,
    "abstract_socket": connect_abstract,
    "child_process_write": child_writes_home,
}


def attempt(escape):
    try:
        escape()
    except PermissionError:
        return "denied"
    except Exception as exc:  # anything else is not the sandbox speaking
        return f"other: {exc!r}"
    return "allowed"


print("KERNEL_EVAL_PROBE " + json.dumps({name: attempt(escape) for name, escape in ESCAPES.items()}), flush=True)


class ModelNew(nn.Module):
    def forward(self, x):
        return torch.relu(x)
