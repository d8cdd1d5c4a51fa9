"""Inside a child: confine this process at its start, then to the one file it serves before importing it.

`at_start` runs first thing, while the process has one thread, so every thread it ever has inherits it:
no_new_privs, no capabilities, the syscall filter, and a Landlock layer that denies TCP, signals and abstract
sockets outside the process, ptrace of other processes, and writes anywhere but its temporary folder, its payload
folder and the build prefixes. `to_file` adds a second layer for the thread that will run the user's code (and all
it starts): reads only of the system, Python, the toolchain and the file's own folder, and writes only to that
file's build folder, its temporary folder and its payload folder.
"""

from __future__ import annotations

import glob
import os
import platform
import shutil
import sys
from collections.abc import Callable, Iterable

from kernel_eval.result import Protection, ProtectionState, SandboxMode, SandboxRecord
from kernel_eval.sandbox import landlock, privileges, seccomp
from kernel_eval.sandbox.landlock import Fs, Net, Scope
from kernel_eval.sandbox.policy import ABI_LIMIT_ENV, Policy

ON, OFF, UNAVAILABLE = ProtectionState.ON, ProtectionState.OFF, ProtectionState.UNAVAILABLE
NAMES = ("filesystem", "network", "signals", "abstract_sockets", "other_processes", "capabilities",
         "syscall_filter", "environment")  # fmt: skip
SYSTEM_READS = ("/usr", "/lib", "/lib32", "/lib64", "/libx32", "/bin", "/sbin", "/opt", "/proc", "/sys", "/nix",
                "/snap", "/run/nvidia-persistenced")  # fmt: skip
SECRET_ETC = frozenset({"shadow", "shadow-", "gshadow", "gshadow-", "sudoers", "sudoers.d", "ssh", "ssl", "pki",
                        "security", "krb5.keytab", "credstore", "credstore.encrypted"})  # fmt: skip
DEVICES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty", "/dev/nvidia*",
           "/dev/nvidia-caps/*", "/dev/dri/*")  # fmt: skip


class _State:
    policy = Policy()
    abi = 0
    protections: list[Protection] = []  # noqa: RUF012 - one per process
    file_confined = False
    why_not = ""
    writable: list[str] = []  # noqa: RUF012


def at_start() -> list[Protection]:
    """Confine this process as its parent's policy says. Returns what is now in force."""
    policy = Policy.from_env()
    _State.policy = policy
    if policy.mode is SandboxMode.OFF:
        _State.protections = [Protection(name, OFF, "--sandbox off") for name in NAMES]
        return _State.protections
    found: dict[str, Protection] = {}
    found["environment"] = Protection(
        "environment", ON, f"an allow-list: {len(policy.env_dropped)} of the caller's variables left out"
    )
    _try(found, "capabilities", _drop_capabilities)
    filtered = _try(found, "syscall_filter", _install_filter)
    abi = _State.abi = _first_layer(policy)
    why_not = _State.why_not
    found["network"] = _network(abi, filtered)
    found["signals"] = _scope(abi, "signals to processes outside its own")
    found["abstract_sockets"] = _scope(abi, "abstract Unix sockets outside its own processes")
    if abi:
        found["other_processes"] = Protection(
            "other_processes",
            ON,
            "no ptrace, /proc/PID/mem or /proc/PID/environ of processes outside its own",
        )
        found["filesystem"] = Protection(
            "filesystem", ON, f"Landlock ABI {abi}: writes only to its build folders and temporary folder"
        )
    else:
        found["other_processes"] = Protection("other_processes", UNAVAILABLE, why_not)
        found["filesystem"] = Protection("filesystem", UNAVAILABLE, why_not)
    if policy.role == "judge":
        found["filesystem"] = Protection("filesystem", OFF, "the judge runs the trusted reference")
    _State.protections = [found[name] for name in NAMES]
    return _State.protections


def to_file(
    build_dir: str, user_folder: str, extra_reads: Iterable[str] = (), extra_writes: Iterable[str] = ()
) -> list[Protection]:
    """Before importing the user's file: reads and writes narrowed to what that file needs (this thread and the
    threads and processes it starts). Once per process: later calls change nothing."""
    policy = _State.policy
    if policy.mode is SandboxMode.OFF or not _State.abi or _State.file_confined:
        return _State.protections
    os.makedirs(build_dir, mode=0o700, exist_ok=True)
    ruleset = landlock.Ruleset(_State.abi, fs=landlock.READ | landlock.WRITE)
    writes = [build_dir, policy.tmp, policy.payload, *extra_writes]
    _State.writable = ruleset.allow_all(writes, landlock.READ | landlock.WRITE)
    reads = [*_system_reads(), *_python_reads(), *_toolchain_reads(), *policy.prefixes, *policy.readable]
    ruleset.allow_all([*reads, user_folder, *extra_reads], landlock.READ)
    ruleset.allow("/dev", Fs.READ_DIR)
    ruleset.allow_all([*_devices(), _own_proc()], Fs.READ_FILE | Fs.WRITE_FILE | Fs.TRUNCATE)
    ruleset.restrict_self()
    _State.file_confined = True
    _State.protections = [
        Protection(
            "filesystem",
            ON,
            f"Landlock ABI {_State.abi}: reads of the system, Python, the toolchain and {user_folder}; "
            f"writes only to {build_dir} and its temporary folder",
        )
        if p.name == "filesystem"
        else p
        for p in _State.protections
    ]
    return _State.protections


def record() -> SandboxRecord:
    return SandboxRecord(_State.policy.mode, _State.abi, list(_State.protections))


def refusal() -> str:
    """Under --sandbox strict, why user code must not run here ("" when everything is in force)."""
    if _State.policy.mode is not SandboxMode.STRICT:
        return ""
    missing = [p for p in _State.protections if p.state is not ON]
    return "; ".join(f"{p.name}: {p.detail}" for p in missing)


def denial(exc: BaseException) -> str:
    """What the sandbox denied, when `exc` is its doing ("" otherwise)."""
    if _State.policy.mode is SandboxMode.OFF or not isinstance(exc, PermissionError):
        return ""
    target = exc.filename
    if target is None:
        return (
            "a network connection, or a signal to or a look into another process, was denied by the sandbox"
        )
    if not _State.writable:
        return ""
    return f"access to {target} was denied by the sandbox"


def denial_hint() -> str:
    where = ", ".join(_State.writable) or "its build folder and temporary folder"
    return (
        f"code under test may write only to {where} (use tempfile for scratch files), read the system, Python "
        "and its own folder, and may not use the network or reach other processes"
    )


def _try(found: dict[str, Protection], name: str, step: Callable[[], str]) -> bool:
    """Run one protection's step: on, with what it says, or unavailable, with why."""
    try:
        detail = step()
    except OSError as exc:
        found[name] = Protection(name, UNAVAILABLE, str(exc))
        return False
    found[name] = Protection(name, ON, detail)
    return True


def _first_layer(policy: Policy) -> int:
    """The Landlock layer of the whole process. Returns the ABI in force (0: none, `_State.why_not` says
    why)."""
    abi = _abi()
    if not abi:
        _State.why_not = _abi_reason()
        return 0
    try:
        ruleset = landlock.Ruleset(
            abi,
            fs=landlock.WRITE if policy.role != "judge" else Fs(0),
            net=Net.BIND_TCP | Net.CONNECT_TCP,
            scope=Scope.SIGNAL | Scope.ABSTRACT_UNIX_SOCKET,
        )
        if policy.role != "judge":
            _State.writable = ruleset.allow_all(
                [policy.tmp, policy.payload, *policy.prefixes], landlock.WRITE
            )
            ruleset.allow_all([*_devices(), _own_proc()], Fs.WRITE_FILE | Fs.TRUNCATE)
        ruleset.restrict_self()
    except OSError as exc:
        _State.why_not = f"Landlock refused the ruleset: {exc}"
        return 0
    return abi


def _drop_capabilities() -> str:
    privileges.set_no_new_privs()
    had = privileges.effective_capabilities()
    privileges.drop_capabilities()
    if privileges.effective_capabilities():
        raise OSError(1, "capabilities remain after dropping them")
    return "dropped every capability (it ran as root)" if had else "none held; no_new_privs set"


def _install_filter() -> str:
    reason = seccomp.supported()
    if reason:
        raise OSError(95, reason)
    seccomp.install()
    return "seccomp: no sockets but Unix and netlink; no " + ", ".join(
        seccomp.denied_calls(platform.machine())
    )


def _abi() -> int:
    abi = landlock.abi_version()
    limit = os.environ.get(ABI_LIMIT_ENV, "")
    return min(abi, int(limit)) if limit.isdigit() else abi


def _abi_reason() -> str:
    reason = landlock.unavailable_reason()
    return reason or f"Landlock limited to ABI 0 by {ABI_LIMIT_ENV}"


def _network(abi: int, filtered: bool) -> Protection:
    if abi >= 4 and filtered:
        return Protection(
            "network", ON, "no TCP bind or connect (Landlock), no IP or packet sockets (seccomp)"
        )
    if filtered:
        return Protection("network", ON, "no IP or packet sockets (seccomp)")
    if abi >= 4:
        return Protection("network", ON, "no TCP bind or connect (Landlock); UDP is not filtered")
    return Protection("network", UNAVAILABLE, "neither Landlock ABI 4 nor a seccomp filter")


def _scope(abi: int, what: str) -> Protection:
    name = "signals" if what.startswith("signals") else "abstract_sockets"
    if abi >= 6:
        return Protection(name, ON, f"no {what}")
    reason = f"Landlock ABI {abi} (the kernel scopes these from ABI 6, Linux 6.12)" if abi else _abi_reason()
    return Protection(name, UNAVAILABLE, reason)


def _devices() -> list[str]:
    return [path for pattern in DEVICES for path in sorted(glob.glob(pattern))]


def _own_proc() -> str:
    """This process's own /proc folder: the CUDA driver writes there as it starts (error 304 without it)."""
    return f"/proc/{os.getpid()}"


def _system_reads() -> list[str]:
    etc = [os.path.join("/etc", name) for name in _listdir("/etc") if name not in SECRET_ETC]
    return [*SYSTEM_READS, *etc]


def _python_reads() -> list[str]:
    executable = sys.executable or ""
    found = [sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix]
    found += [os.path.dirname(executable), os.path.dirname(os.path.realpath(executable))]
    return found + [p for p in sys.path if p]


def _toolchain_reads() -> list[str]:
    homes = [os.environ.get("CUDA_HOME", ""), os.environ.get("CUDA_PATH", "")]
    extension = sys.modules.get("torch.utils.cpp_extension")
    homes.append(getattr(extension, "CUDA_HOME", None) or "")
    for tool in ("nvcc", "gcc", "g++", "cc", "c++", "clang", "ninja", "ldconfig"):
        found = shutil.which(tool)
        if found:
            homes.append(os.path.dirname(os.path.dirname(os.path.realpath(found))))
    return [home for home in homes if home]


def _listdir(path: str) -> list[str]:
    try:
        return os.listdir(path)
    except OSError:
        return []
