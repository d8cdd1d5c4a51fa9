"""A small seccomp-BPF filter for the processes that run user code: what Landlock leaves open.

Denied (the call fails with an errno, the process goes on): sockets of any family but Unix and netlink (UDP, raw
and packet sockets, which Landlock's TCP rules do not cover), ptrace and the cross-process memory calls, io_uring
(its operations would bypass this filter), the kernel keyrings, and any syscall of a foreign ABI (x32, i386).
"""

from __future__ import annotations

import ctypes
import errno
import platform
import struct

_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER = 22, 2
_LD_W_ABS, _JEQ_K, _JGE_K, _RET_K = 0x20, 0x15, 0x35, 0x06
_ALLOW = 0x7FFF0000
_ERRNO = 0x00050000
_AF_UNIX, _AF_NETLINK = 1, 16
_X32_BIT = 0x40000000

# arch: (AUDIT_ARCH, socket, {denied syscall: name})
_ARCHES: dict[str, tuple[int, int, dict[int, str]]] = {
    "x86_64": (
        0xC000003E,
        41,
        {
            101: "ptrace",
            310: "process_vm_readv",
            311: "process_vm_writev",
            425: "io_uring_setup",
            248: "add_key",
            249: "request_key",
            250: "keyctl",
            438: "pidfd_getfd",
        },
    ),
    "aarch64": (
        0xC00000B7,
        198,
        {
            117: "ptrace",
            270: "process_vm_readv",
            271: "process_vm_writev",
            425: "io_uring_setup",
            217: "add_key",
            218: "request_key",
            219: "keyctl",
            438: "pidfd_getfd",
        },
    ),
}


def supported() -> str:
    """ "" when this machine's architecture has a filter here, else why not."""
    if platform.system() != "Linux":
        return f"seccomp is a Linux feature; this is {platform.system()}"
    if platform.machine() not in _ARCHES:
        return f"no syscall filter written for {platform.machine()}"
    return ""


def program(machine: str) -> list[tuple[int, int, int, int]]:
    """The filter, as (code, jump if true, jump if false, k) instructions."""
    arch, socket_nr, denied = _ARCHES[machine]
    insns = [
        (_LD_W_ABS, 0, 0, 4),  # seccomp_data.arch
        (_JEQ_K, 1, 0, arch),
        (_RET_K, 0, 0, _ERRNO | errno.EPERM),
        (_LD_W_ABS, 0, 0, 0),  # seccomp_data.nr
    ]
    if machine == "x86_64":
        insns += [(_JGE_K, 0, 1, _X32_BIT), (_RET_K, 0, 0, _ERRNO | errno.EPERM)]
    for number in denied:
        insns += [(_JEQ_K, 0, 1, number), (_RET_K, 0, 0, _ERRNO | errno.EPERM)]
    insns += [
        (_JEQ_K, 0, 4, socket_nr),
        (_LD_W_ABS, 0, 0, 16),  # args[0], the address family (low half, little-endian)
        (_JEQ_K, 2, 0, _AF_UNIX),
        (_JEQ_K, 1, 0, _AF_NETLINK),
        (_RET_K, 0, 0, _ERRNO | errno.EACCES),
        (_RET_K, 0, 0, _ALLOW),
    ]
    return insns


def denied_calls(machine: str) -> list[str]:
    return sorted(_ARCHES[machine][2].values())


def install() -> None:
    """Filter this thread and what it starts from now on. Needs no_new_privs set first."""
    insns = program(platform.machine())
    raw = b"".join(struct.pack("=HBBI", *insn) for insn in insns)
    filters = ctypes.create_string_buffer(raw, len(raw))

    class _Program(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    prog = _Program(len(insns), ctypes.addressof(filters))
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0) != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"seccomp filter refused: {errno.errorcode.get(code, code)}")
