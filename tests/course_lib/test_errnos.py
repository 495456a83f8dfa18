"""The errno sets of course_lib.probes hold what Windows and macOS sockets really report, checked from Linux.

A socket error on Windows is a Winsock code (WinSock2.h: WSABASEERR 10000 + n). CPython turns it into
``OSError.errno`` with ``winerror_to_errno`` (PC/errmap.h): Winsock codes stay as they are, except six
(WSAEINTR, WSAEBADF, WSAEACCES, WSAEFAULT, WSAEINVAL, WSAEMFILE) that become ``code - 10000``, the C
library's numbers. Its ``errno`` module (Modules/errnomodule.c) undefines the C library's socket names
(ECONNREFUSED, EADDRINUSE, ...) and gives them the Winsock values, so ``errno.ECONNREFUSED == 10061`` there,
while EACCES, EPIPE and EAGAIN keep the C library's 13, 32 and 11. The tables below are those facts; the
tests build each platform's sets with ``probes.errno_sets`` and check every code a situation can raise.
"""
from __future__ import annotations

import errno
import socket
import sys

import pytest

from course_lib import peers, probes, timing

WSABASEERR = 10000
#: WinSock2.h: WSAE<name> = WSABASEERR + n.
WINSOCK = {
    "EINTR": 4, "EBADF": 9, "EACCES": 13, "EFAULT": 14, "EINVAL": 22, "EMFILE": 24,
    "EWOULDBLOCK": 35, "EINPROGRESS": 36, "EALREADY": 37, "ENOTSOCK": 38, "EPROTOTYPE": 41,
    "EAFNOSUPPORT": 47, "EADDRINUSE": 48, "EADDRNOTAVAIL": 49, "ENETDOWN": 50, "ENETUNREACH": 51,
    "ENETRESET": 52, "ECONNABORTED": 53, "ECONNRESET": 54, "ENOBUFS": 55, "EISCONN": 56,
    "ENOTCONN": 57, "ESHUTDOWN": 58, "ETIMEDOUT": 60, "ECONNREFUSED": 61, "EHOSTDOWN": 64,
    "EHOSTUNREACH": 65,
}
#: The Microsoft C library's own numbers for the names CPython does not replace (errno.h).
MSVC_CRT = {"EINTR": 4, "EBADF": 9, "EAGAIN": 11, "EACCES": 13, "EFAULT": 14, "EINVAL": 22,
            "EMFILE": 24, "EPIPE": 32}


def windows_errno_module() -> dict[str, int]:
    """Names and numbers of CPython's errno module on Windows (the part the sets use)."""
    table = {f"WSA{name}": WSABASEERR + n for name, n in WINSOCK.items()}
    table.update({name: WSABASEERR + n for name, n in WINSOCK.items()})  # the overridden names
    table.update(MSVC_CRT)  # ... except those the C library defines and CPython keeps
    return table


def winerror_to_errno(winerror: int) -> int:
    """PC/errmap.h's Winsock branch: what ``OSError.errno`` is for a Winsock error."""
    assert 10000 <= winerror < 12000
    if winerror - WSABASEERR in {4, 9, 13, 14, 22, 24}:  # WSAEINTR ... WSAEMFILE
        return winerror - WSABASEERR
    return winerror


#: The Winsock codes each situation produces on Windows (Microsoft's "Windows Sockets Error Codes").
WINDOWS_RAISES = {
    "refused": ["ECONNREFUSED"],
    "reset": ["ECONNRESET", "ECONNABORTED", "ESHUTDOWN"],
    "unreachable": ["ENETUNREACH", "EHOSTUNREACH", "ENETDOWN", "EHOSTDOWN"],
    # bind: another socket has the port (EADDRINUSE) or holds it with SO_EXCLUSIVEADDRUSE (EACCES)
    "addr_in_use": ["EADDRINUSE", "EACCES"],
    "timeout": ["ETIMEDOUT"],
    "would_block": ["EWOULDBLOCK", "EINPROGRESS", "EALREADY"],
}

#: macOS (XNU's sys/errno.h) numbers, and what each situation raises there.
MACOS = {"EACCES": 13, "EPIPE": 32, "EAGAIN": 35, "EWOULDBLOCK": 35, "EINPROGRESS": 36,
         "EALREADY": 37, "EPROTOTYPE": 41, "EADDRINUSE": 48, "ENETDOWN": 50, "ENETUNREACH": 51,
         "ECONNABORTED": 53, "ECONNRESET": 54, "ESHUTDOWN": 58, "ETIMEDOUT": 60, "ECONNREFUSED": 61,
         "EHOSTDOWN": 64, "EHOSTUNREACH": 65}
MACOS_RAISES = {
    "refused": [61],
    "reset": [54, 53, 32, 58, 41],  # 41: EPROTOTYPE from a send racing the teardown (CPython #77631)
    "unreachable": [51, 65, 50, 64],
    "addr_in_use": [48],
    "timeout": [60],
    "would_block": [35, 36, 37],
}


@pytest.mark.parametrize("situation", sorted(WINDOWS_RAISES))
def test_windows_sets_hold_what_cpython_raises_there(situation):
    sets = probes.errno_sets(windows_errno_module(), "win32")
    raised = {winerror_to_errno(WSABASEERR + WINSOCK[name]) for name in WINDOWS_RAISES[situation]}
    assert raised <= sets[situation], f"{situation}: missing {sorted(raised - sets[situation])}"


def test_windows_exclusive_port_is_errno_13_and_counts_as_in_use():
    # 06 cell 13: a PermissionError with errno 13 (winerror 10013) is "address in use" on Windows.
    assert winerror_to_errno(10013) == 13
    assert 13 in probes.errno_sets(windows_errno_module(), "win32")["addr_in_use"]
    # ... but not on POSIX, where EACCES from bind means a privileged port.
    assert 13 not in probes.errno_sets(MACOS, "darwin")["addr_in_use"]
    assert (errno.EACCES in probes.ADDRINUSE_ERRNOS) == (sys.platform == "win32")


@pytest.mark.parametrize("situation", sorted(MACOS_RAISES))
def test_macos_sets_hold_what_macos_raises(situation):
    sets = probes.errno_sets(MACOS, "darwin")
    assert set(MACOS_RAISES[situation]) <= sets[situation]


def test_situations_do_not_overlap_on_any_platform():
    for sets in (probes.errno_sets(windows_errno_module(), "win32"), probes.errno_sets(MACOS, "darwin"),
                 probes.errno_sets()):
        names = sorted(sets)
        for i, a in enumerate(names):
            for b in names[i + 1:]:
                assert not sets[a] & sets[b], f"{a} and {b} share {sorted(sets[a] & sets[b])}"


def test_this_platforms_sets_are_the_module_constants():
    sets = probes.errno_sets()
    assert sets["refused"] == probes.REFUSED_ERRNOS
    assert sets["reset"] == probes.RESET_ERRNOS
    assert sets["addr_in_use"] == probes.ADDRINUSE_ERRNOS
    assert sets["would_block"] == probes.WOULDBLOCK_ERRNOS


def test_a_refusal_arrives_within_refusal_delay():
    # Windows retries a refused SYN for about 2 s (probes.REFUSAL_DELAY); here it must be refused, not
    # timed out, with a timeout of REFUSAL_DELAY plus a margin.
    with peers.refused_address() as address, socket.socket() as s:
        s.settimeout(probes.REFUSAL_DELAY + timing.scaled(1.0))
        assert s.connect_ex(address) in probes.REFUSED_ERRNOS
