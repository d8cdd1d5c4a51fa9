"""Process-wide settings through prctl/capset: no_new_privs, capabilities dropped, not dumpable."""

from __future__ import annotations

import ctypes
import os
import platform
import struct

_PR_SET_DUMPABLE, _PR_CAPBSET_DROP, _PR_SET_NO_NEW_PRIVS, _PR_CAP_AMBIENT = 4, 24, 38, 47
_PR_CAP_AMBIENT_CLEAR_ALL = 4
_CAP_V3 = 0x20080522
_SYS_CAPSET = {"x86_64": 126, "aarch64": 91}

_libc = ctypes.CDLL(None, use_errno=True)


def set_no_new_privs() -> None:
    """Nothing this process executes can gain privileges (setuid bits, file capabilities). Landlock and seccomp
    need it, and it cannot be undone."""
    if _libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS)")


def no_new_privs() -> bool:
    return _status_field("NoNewPrivs") == "1"


def effective_capabilities() -> int:
    return int(_status_field("CapEff") or "0", 16)


def drop_capabilities() -> None:
    """Empty the bounding, ambient, effective, permitted and inheritable sets: root keeps its uid but none of the
    powers (CAP_SYS_PTRACE, CAP_DAC_OVERRIDE, CAP_KILL, ...) that reach past file modes and process ownership.
    Programs it runs (nvcc, ninja) get none back."""
    last = int(_read("/proc/sys/kernel/cap_last_cap") or "40")
    for cap in range(last + 1):
        _libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0)  # EPERM without CAP_SETPCAP: then there is none to drop
    _libc.prctl(_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    number = _SYS_CAPSET.get(platform.machine())
    if number is None or (effective_capabilities() == 0 and _status_field("CapPrm") in ("", "0" * 16)):
        return
    header = ctypes.create_string_buffer(struct.pack("=Ii", _CAP_V3, 0), 8)
    # two {effective, permitted, inheritable} words, all zero
    data = ctypes.create_string_buffer(bytes(24), 24)
    if _libc.syscall(number, header, data) != 0:
        raise OSError(ctypes.get_errno(), "capset")


def make_undumpable() -> None:
    """Other processes of this user can no longer read this one's memory or environment through /proc."""
    _libc.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)


def make_dumpable() -> None:
    """As a freshly started process is (a fork keeps its parent's setting)."""
    _libc.prctl(_PR_SET_DUMPABLE, 1, 0, 0, 0)


def dumpable() -> bool:
    return bool(_libc.prctl(3, 0, 0, 0, 0))  # PR_GET_DUMPABLE


def _status_field(name: str) -> str:
    for line in (_read("/proc/self/status") or "").splitlines():
        key, _, value = line.partition(":")
        if key == name:
            return value.strip()
    return ""


def _read(path: str) -> str:
    try:
        with open(path) as file:
            return file.read().strip()
    except OSError:
        return ""


def is_root() -> bool:
    return os.geteuid() == 0
