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


# What a thread of another process is blocked in, read from /proc/<pid>/task/<tid>/syscall (the call's
# number and arguments) and, for a pointer argument, /proc/<pid>/mem: the kernel's own account of a wait,
# which no code in the process can dress up. Numbers per architecture (Python's socket waits are poll()
# on Linux; glibc makes it ppoll where there is no poll).
_CALLS = {
    "x86_64": {7: "poll", 271: "ppoll", 45: "recvfrom", 0: "read", 47: "recvmsg"},
    "aarch64": {73: "ppoll", 207: "recvfrom", 63: "read", 212: "recvmsg"},
}


def _calls() -> dict[int, str]:
    return _CALLS.get(os.uname().machine, {}) if hasattr(os, "uname") else {}


def _memory(pid: int, address: int, size: int) -> bytes | None:
    try:
        with open(f"/proc/{pid}/mem", "rb", buffering=0) as mem:
            mem.seek(address)
            data = mem.read(size)
        return data if len(data) == size else None
    except (OSError, ValueError, OverflowError):
        return None


def socket_link(pid: int, local: tuple[str, int], remote: tuple[str, int]) -> str | None:
    """`socket:[inode]` of process `pid`'s TCP socket with these addresses (from its /proc/<pid>/net)."""
    for table in ("tcp", "tcp6"):
        try:
            with open(f"/proc/{pid}/net/{table}", encoding="ascii", errors="replace") as f:
                lines = list(itertools.islice(f, 1, 4097))
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 9 and net_address(fields[1]) == local and net_address(fields[2]) == remote:
                return f"socket:[{fields[9]}]" if fields[9] != "0" else None
    return None


UNREADABLE = "unreadable"


def waiting_on(pid: int, link: str) -> tuple[str, float | None] | str | None:
    """How a thread of process `pid` is waiting on the socket `link` (`socket:[inode]`), as the kernel
    says: ("poll", seconds) in poll/ppoll with that timeout (None: no limit), ("blocking", None) in a
    blocking receive; None if no thread waits on it now; UNREADABLE if that cannot be read here (another
    user's process, no /proc, an architecture not listed)."""
    calls = _calls()
    if not calls:
        return UNREADABLE
    try:
        tids = os.listdir(f"/proc/{pid}/task")[:4096]
    except OSError:
        return UNREADABLE
    readable = False
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/syscall", encoding="ascii") as fh:
                fields = fh.read(512).split()
        except OSError:
            continue  # (gone since the listing; or EACCES: the others say whether any can be read)
        readable = True
        if not fields or not fields[0].lstrip("-").isdigit():
            continue  # "running"
        try:
            number, args = int(fields[0]), [int(a, 16) for a in fields[1:7]]
        except ValueError:
            continue
        name = calls.get(number)
        if name in ("recvfrom", "read", "recvmsg"):
            if _link(pid, args[0]) == link:
                return ("blocking", None)
        elif name in ("poll", "ppoll"):
            count = min(args[1], 64)
            raw = _memory(pid, args[0], 8 * count) if count else b""
            if raw is None:
                return UNREADABLE  # (the same right as the syscall file: not a wait to overlook)
            numbers = [int.from_bytes(raw[8 * k:8 * k + 4], sys.byteorder, signed=True) for k in range(count)]
            if not any(n >= 0 and _link(pid, n) == link for n in numbers):
                continue
            if name == "poll":
                millis = int.from_bytes(args[2].to_bytes(8, "little")[:4], "little", signed=True)
                return ("poll", None if millis < 0 else millis / 1000)
            if args[2] == 0:
                return ("poll", None)
            spec = _memory(pid, args[2], 16)
            if spec is None:
                return UNREADABLE
            seconds = int.from_bytes(spec[:8], sys.byteorder, signed=True)
            nanos = int.from_bytes(spec[8:], sys.byteorder, signed=True)
            return ("poll", seconds + nanos / 1e9)
    return None if readable else UNREADABLE


def _link(pid: int, number: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/fd/{number}")
    except (OSError, ValueError):
        return None


def cpu_seconds(pid: int | None) -> float | None:
    """The CPU time all threads of process `pid` have used so far (the scheduler's nanosecond count in
    /proc/<pid>/task/<tid>/schedstat; a thread that ended takes its time with it), or None if unreadable."""
    if pid is None:
        return None
    try:
        tids = os.listdir(f"/proc/{pid}/task")[:4096]
    except OSError:
        return None
    total, read = 0, False
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat", encoding="ascii") as fh:
                total += int(fh.read(200).split()[0])
            read = True
        except (OSError, ValueError, IndexError):
            continue
    return total / 1e9 if read else None


TCP_LISTEN = 10


def backlog(sock: socket.socket) -> int | None:
    """How many connections wait in a listening TCP socket's accept queue now (Linux's TCP_INFO: for a
    listener, `tcpi_unacked` is that queue), or None where that cannot be read."""
    if not hasattr(socket, "TCP_INFO") or sock.fileno() == -1:
        return None
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 32)
    except OSError:
        return None
    if len(info) < 28 or info[0] != TCP_LISTEN:
        return None
    return int.from_bytes(info[24:28], sys.byteorder)
