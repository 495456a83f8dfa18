"""The kernel's process read from outside, through /proc: what the judge sees without asking the kernel.

`fd_table` lists a process's descriptors (number -> `socket:[inode]`, a path, ...); `describe_socket`
says what one socket is (kind and addresses) from the process's /proc/<pid>/net tables, which show its
network namespace. Nothing here writes, or follows a link: readlink only reads the link's text.
"""
from __future__ import annotations

import itertools
import os
import socket
import sys


def fd_table(pid: int | None) -> dict[int, str] | None:
    """The kernel's descriptors, number -> what it refers to (`socket:[inode]`), read from /proc; None if
    they cannot be read (another user's process, no /proc)."""
    if pid is None:
        return None
    folder = f"/proc/{pid}/fd"
    table: dict[int, str] = {}
    try:
        names = os.listdir(folder)
    except OSError:
        return None
    for name in names[:65536]:
        try:
            table[int(name)] = os.readlink(os.path.join(folder, name))
        except FileNotFoundError:
            continue  # closed since the listing
        except (OSError, ValueError):
            return None  # not readable (permissions): unknown, never "no such descriptor"
    return table


SYS_PIDFD_GETFD = 438  # the same number on every Linux architecture (syscalls added since 5.1 share one table)


def borrow(pid: int, number: int) -> int | None:
    """A copy, in this process, of descriptor `number` of process `pid` (pidfd_getfd, Linux 5.6+), or None
    where that is not allowed or not there. The copy is the caller's to close; the process keeps its own."""
    if not hasattr(os, "pidfd_open"):
        return None
    try:
        pidfd = os.pidfd_open(pid)
    except OSError:
        return None
    try:
        import ctypes

        fd = ctypes.CDLL(None, use_errno=True).syscall(SYS_PIDFD_GETFD, pidfd, number, 0)
        return fd if isinstance(fd, int) and fd >= 0 else None
    except (OSError, AttributeError):
        return None
    finally:
        os.close(pidfd)


def describe(pid: int | None, number: int, link: str) -> str:
    """Descriptor `number` of process `pid`, a socket (`link`), described as resources.describe_fd says a
    socket of this process: from a borrowed copy where the kernel allows it, else from /proc/<pid>/net."""
    from ..resources import describe_fd

    copy = borrow(pid, number) if pid is not None else None
    if copy is None:
        return f"fd {number} ({describe_socket(pid, link)})"
    try:
        return describe_fd(copy, shown=number)
    finally:
        os.close(copy)


def describe_socket(pid: int | None, link: str) -> str:
    """`socket:[inode]` described from /proc/<pid>/net (the kernel's network namespace): its kind and
    addresses, as resources.describe_fd says them of a socket of this process."""
    inode = link[len("socket:["):-1]
    if not inode.isdigit() or inode == "0":  # 0: a connection no descriptor owns (TIME_WAIT)
        return "a socket"
    for table, kind in (("tcp", "AF_INET SOCK_STREAM"), ("tcp6", "AF_INET6 SOCK_STREAM"),
                        ("udp", "AF_INET SOCK_DGRAM"), ("udp6", "AF_INET6 SOCK_DGRAM")):
        try:
            with open(f"/proc/{pid}/net/{table}", encoding="ascii", errors="replace") as f:
                lines = list(itertools.islice(f, 1, 4097))  # bounded: the host's table when not sandboxed
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 9 and fields[9] == inode:
                local, remote = net_address(fields[1]), net_address(fields[2])
                if remote[1] == 0:
                    return f"{kind} socket bound to {local!r}"
                return f"{kind} socket connected from {local!r} to {remote!r}"
    return "a socket"


def net_address(text: str) -> tuple[str, int]:
    """'0100007F:1F90' (/proc/net/tcp: host-order hex address, hex port) -> ('127.0.0.1', 8080)."""
    host, _, port = text.partition(":")
    try:
        raw = bytes.fromhex(host)
        if sys.byteorder == "little":
            raw = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
        packed = raw
        family = socket.AF_INET if len(packed) == 4 else socket.AF_INET6
        return socket.inet_ntop(family, packed), int(port, 16)
    except (ValueError, OSError):
        return "?", 0


def tcp_active_opens(pid: int | None) -> int | None:
    """TCP connection attempts made so far in the network namespace of process `pid` (ActiveOpens in its
    /proc/<pid>/net/snmp: every connect() that sent a SYN, IPv4 and IPv6), or None if unreadable."""
    if pid is None:
        return None
    try:
        with open(f"/proc/{pid}/net/snmp", encoding="ascii") as fh:
            lines = [line.split() for line in fh.read(65536).splitlines() if line.startswith("Tcp:")]
        if len(lines) >= 2 and "ActiveOpens" in lines[0]:
            return int(lines[1][lines[0].index("ActiveOpens")])
    except (OSError, ValueError, IndexError, UnicodeDecodeError):
        pass
    return None
