"""A typed wrapper of Linux's three Landlock system calls (landlock(7)): no privileges, no helper binary.

A ruleset names the accesses it *handles*. Everything handled and not granted by a rule is denied to the calling
thread and every thread or process it starts afterwards, for good. Rulesets stack: each layer can only narrow.
"""

from __future__ import annotations

import ctypes
import enum
import errno
import os
import platform
import stat
import struct
from collections.abc import Iterable

_SYS_CREATE_RULESET, _SYS_ADD_RULE, _SYS_RESTRICT_SELF = 444, 445, 446  # the same on every 64-bit arch
_CREATE_RULESET_VERSION = 1
_RULE_PATH_BENEATH, _RULE_NET_PORT = 1, 2
_ATTR_SIZE_BY_ABI = {1: 8, 2: 8, 3: 8, 4: 16, 5: 16}  # ABI 6 on: handled fs, handled net, scoped (24 bytes)

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


class Fs(enum.IntFlag):
    EXECUTE = 1 << 0
    WRITE_FILE = 1 << 1
    READ_FILE = 1 << 2
    READ_DIR = 1 << 3
    REMOVE_DIR = 1 << 4
    REMOVE_FILE = 1 << 5
    MAKE_CHAR = 1 << 6
    MAKE_DIR = 1 << 7
    MAKE_REG = 1 << 8
    MAKE_SOCK = 1 << 9
    MAKE_FIFO = 1 << 10
    MAKE_BLOCK = 1 << 11
    MAKE_SYM = 1 << 12
    REFER = 1 << 13  # ABI 2
    TRUNCATE = 1 << 14  # ABI 3


READ = Fs.EXECUTE | Fs.READ_FILE | Fs.READ_DIR
WRITE = (
    Fs.WRITE_FILE
    | Fs.REMOVE_DIR
    | Fs.REMOVE_FILE
    | Fs.MAKE_CHAR
    | Fs.MAKE_DIR
    | Fs.MAKE_REG
    | Fs.MAKE_SOCK
    | Fs.MAKE_FIFO
    | Fs.MAKE_BLOCK
    | Fs.MAKE_SYM
    | Fs.REFER
    | Fs.TRUNCATE
)
# the rights a rule on a non-directory may grant
FILE_ONLY = Fs.EXECUTE | Fs.WRITE_FILE | Fs.READ_FILE | Fs.TRUNCATE


class Net(enum.IntFlag):
    BIND_TCP = 1 << 0  # ABI 4
    CONNECT_TCP = 1 << 1


class Scope(enum.IntFlag):
    ABSTRACT_UNIX_SOCKET = 1 << 0  # ABI 6
    SIGNAL = 1 << 1


NO_FS, NO_NET, NO_SCOPE = Fs(0), Net(0), Scope(0)


class LandlockError(OSError):
    """A Landlock call failed. Its errno says why."""


def abi_version() -> int:
    """The kernel's Landlock ABI (0: none, with the reason in `unavailable_reason`)."""
    return _ask_version()[0]


def unavailable_reason() -> str:
    if platform.system() != "Linux":
        return f"Landlock is a Linux feature; this is {platform.system()}"
    version, code = _ask_version()
    if version:
        return ""
    if code == errno.ENOSYS:
        return f"the kernel ({platform.release()}) has no Landlock (Linux 5.13 or later, built with it)"
    if code == errno.EOPNOTSUPP:
        return "Landlock is built into the kernel but not enabled (add landlock to the lsm= boot parameter)"
    return f"Landlock is unavailable ({os.strerror(code)})"


def _ask_version() -> tuple[int, int]:
    """The ABI (0 when there is none) and the errno that said why."""
    if platform.system() != "Linux":
        return 0, errno.ENOSYS
    ctypes.set_errno(0)
    version = _libc.syscall(
        _SYS_CREATE_RULESET, None, ctypes.c_size_t(0), ctypes.c_uint32(_CREATE_RULESET_VERSION)
    )
    return (int(version), 0) if version > 0 else (0, ctypes.get_errno())


def handled_fs(abi: int) -> Fs:
    rights = READ | WRITE
    if abi < 2:
        rights &= ~Fs.REFER
    if abi < 3:
        rights &= ~Fs.TRUNCATE
    return rights


class Ruleset:
    """One layer: what it handles, then rules granting parts of it, then `restrict_self`."""

    def __init__(self, abi: int, fs: Fs = NO_FS, net: Net = NO_NET, scope: Scope = NO_SCOPE) -> None:
        if abi < 4:
            net = Net(0)
        if abi < 6:
            scope = Scope(0)
        self.abi, self.fs, self.net, self.scope = abi, fs & handled_fs(abi), net, scope
        size = _ATTR_SIZE_BY_ABI.get(abi, 24)
        attr = struct.pack("=QQQ", int(self.fs), int(self.net), int(self.scope))[:size]
        buffer = ctypes.create_string_buffer(attr, size)
        self._fd = _check(
            _libc.syscall(_SYS_CREATE_RULESET, buffer, ctypes.c_size_t(size), ctypes.c_uint32(0))
        )

    def allow(self, path: str, rights: Fs) -> bool:
        """Grant `rights` (within those handled) beneath `path`. Returns False when the path does not
        exist."""
        try:
            fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
        except OSError:
            return False
        try:
            if not stat.S_ISDIR(os.fstat(fd).st_mode):
                rights &= FILE_ONLY
            rights &= self.fs
            if not rights:
                return True
            rule = ctypes.create_string_buffer(struct.pack("=Qi", int(rights), fd), 12)
            _check(
                _libc.syscall(
                    _SYS_ADD_RULE, ctypes.c_int(self._fd), ctypes.c_int(_RULE_PATH_BENEATH), rule, 0
                )
            )
            return True
        finally:
            os.close(fd)

    def allow_all(self, paths: Iterable[str], rights: Fs) -> list[str]:
        """Grant `rights` beneath each path that exists. Returns the ones granted."""
        return [path for path in dict.fromkeys(paths) if self.allow(path, rights)]

    def restrict_self(self) -> None:
        """Enforce on this thread (and what it starts). Needs no_new_privs (or CAP_SYS_ADMIN)."""
        try:
            _check(_libc.syscall(_SYS_RESTRICT_SELF, ctypes.c_int(self._fd), ctypes.c_uint32(0)))
        finally:
            os.close(self._fd)


def _check(value: int) -> int:
    if value < 0:
        code = ctypes.get_errno()
        raise LandlockError(code, os.strerror(code))
    return value
