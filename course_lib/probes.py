"""Find out what this platform's sockets can really do, once.

Why this module exists: ``socket.has_ipv6`` says the interpreter was *built*
with IPv6, not that ``::1`` can be bound (containers and CI runners often
disable it); ``hasattr(socket, "AF_UNIX")`` says nothing about whether a path
can be bound in the temp dir; flags such as ``SOCK_NONBLOCK`` exist as names
on kernels that reject them.  So each probe *tries the thing* once on
loopback, cleans up, and caches the answer (``functools.cache``), the way
CPython's ``test.support.socket_helper`` does.

It also holds the errno sets the harness (and notebook tests) compare
against: errors are compared through ``errno`` symbols, never numbers, and a
set per situation because platforms disagree about which symbol they use
(Linux ``ECONNRESET`` vs. Windows ``WSAECONNRESET``, for example).
"""

from __future__ import annotations

import errno
import functools
import os
import shutil
import socket
import sys
import tempfile
from collections.abc import Callable, Mapping

__all__ = [
    "ipv6_available",
    "unix_available",
    "dualstack_available",
    "constant_available",
    "feature_available",
    "FEATURES",
    "platform_summary",
    "skip_unless",
    "errno_name",
    "errno_sets",
    "REFUSED_ERRNOS",
    "RESET_ERRNOS",
    "UNREACHABLE_ERRNOS",
    "ADDRINUSE_ERRNOS",
    "TIMEOUT_ERRNOS",
    "WOULDBLOCK_ERRNOS",
    "REFUSAL_DELAY",
]


def _errnos(*names: str, codes: Mapping[str, int] | None = None) -> frozenset:
    """Build a frozenset of the errno values whose symbols exist here.

    Why: ``errno.WSAECONNRESET`` exists only on Windows and ``errno.ESHUTDOWN``
    is missing on some platforms; looking them up by name lets one set
    describe every platform without ever writing a number.  ``codes`` (a
    name-to-number table) stands in for the ``errno`` module, so the tests can
    build another platform's sets on this one.
    """
    table = vars(errno) if codes is None else codes
    return frozenset(table[n] for n in names if isinstance(table.get(n), int))


def errno_sets(codes: Mapping[str, int] | None = None, platform: str = sys.platform) -> dict:
    """The errno set of each situation, as a platform's ``errno`` module spells it.

    Why a function: the sets below are this platform's, but Windows and macOS
    differ in ways only their numbers show, and tests/course_lib/test_errnos.py
    checks them from Linux against what CPython raises there:

    * Windows: CPython turns a Winsock error into ``OSError.errno`` with
      ``winerror_to_errno`` (PC/errmap.h): the code itself (``errno.ECONNREFUSED
      == errno.WSAECONNREFUSED == 10061`` there, Modules/errnomodule.c), except
      six codes that become the C library's numbers, among them ``WSAEACCES``
      (10013) -> ``EACCES`` (13).  A port held with ``SO_EXCLUSIVEADDRUSE``
      makes ``bind`` fail that way, as a ``PermissionError``, so on Windows
      ``EACCES`` means "address in use" (on POSIX it means a privileged port).
    * macOS: ``send`` on a connection the peer is tearing down can fail with
      ``EPROTOTYPE`` (a kernel race, CPython issue 77631): a reset there.
    """
    def names(*wanted: str) -> frozenset:
        return _errnos(*wanted, codes=codes)

    reset = names("ECONNRESET", "ECONNABORTED", "EPIPE", "ESHUTDOWN",
                  "WSAECONNRESET", "WSAECONNABORTED", "WSAESHUTDOWN")
    in_use = names("EADDRINUSE", "WSAEADDRINUSE")
    if platform == "darwin":
        reset |= names("EPROTOTYPE")
    if platform == "win32":
        in_use |= names("EACCES")
    return {
        "refused": names("ECONNREFUSED", "WSAECONNREFUSED"),
        "reset": reset,
        "unreachable": names("ENETUNREACH", "EHOSTUNREACH", "ENETDOWN", "EHOSTDOWN",
                             "WSAENETUNREACH", "WSAEHOSTUNREACH", "WSAENETDOWN", "WSAEHOSTDOWN"),
        "addr_in_use": in_use,
        "timeout": names("ETIMEDOUT", "WSAETIMEDOUT"),
        "would_block": names("EAGAIN", "EWOULDBLOCK", "EINPROGRESS", "EALREADY",
                             "WSAEWOULDBLOCK", "WSAEINPROGRESS", "WSAEALREADY"),
    }


_SETS = errno_sets()
#: connect() to a port nobody listens on.
REFUSED_ERRNOS = _SETS["refused"]
#: The peer went away abruptly (RST, broken pipe, aborted connection; on macOS
#: also EPROTOTYPE from a send racing the teardown).
RESET_ERRNOS = _SETS["reset"]
#: No route to the network or host.
UNREACHABLE_ERRNOS = _SETS["unreachable"]
#: bind() to an address already in use (on Windows also EACCES, a
#: PermissionError: another socket holds the port exclusively).
ADDRINUSE_ERRNOS = _SETS["addr_in_use"]
#: The operating system itself timed out (distinct from socket.timeout).
TIMEOUT_ERRNOS = _SETS["timeout"]
#: Extra seconds a refused connect() to loopback may take here.  Linux and
#: macOS refuse at once; Windows answers the peer's RST by sending the SYN
#: again and reports the refusal only after about 2 seconds, so a shorter
#: timeout turns a refusal into a timeout there.  Budgets for refusals add it.
REFUSAL_DELAY = 2.5 if sys.platform == "win32" else 0.0
#: A non-blocking call that would have had to wait (and connect_ex's code
#: when the socket's own timeout expires: EAGAIN/EWOULDBLOCK).
WOULDBLOCK_ERRNOS = _SETS["would_block"]


def errno_name(code: int | None) -> str:
    """Return the symbolic name for an errno value (``'ECONNREFUSED'``).

    Why: messages shown to learners should name the error the way the docs
    do; the number differs between platforms and means nothing to them.
    """
    if code is None:
        return "no errno"
    return errno.errorcode.get(code, f"errno {code}")


@functools.cache
def ipv6_available() -> bool:
    """True if a TCP socket can really be bound to ``::1`` here.

    Why: ``socket.has_ipv6`` is a compile-time flag; Docker containers and
    some CI runners have IPv6 compiled in but no ``::1`` configured.
    """
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
    except (OSError, AttributeError):
        return False
    return True


@functools.cache
def unix_available() -> bool:
    """True if an AF_UNIX stream socket can be bound to a path in a temp dir.

    Why: Windows builds of Python usually lack ``AF_UNIX``, and sandboxes can
    forbid binding socket files; the only reliable test is to bind one (in a
    private temp dir, removed afterwards).
    """
    if not hasattr(socket, "AF_UNIX"):
        return False
    tmp = tempfile.mkdtemp(prefix="sc-")
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.bind(os.path.join(tmp, "probe.sock"))
    except OSError:
        return False
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return True


@functools.cache
def dualstack_available() -> bool:
    """True if one AF_INET6 listener can accept both IPv4 and IPv6 clients.

    Why: ``socket.has_dualstack_ipv6()`` checks the option exists, but a
    host with IPv6 disabled still cannot bind ``::``; the probe creates the
    server as a learner would and checks that IPV6_V6ONLY really is off.
    """
    if not (ipv6_available() and socket.has_dualstack_ipv6()):
        return False
    try:
        with socket.create_server(("", 0), family=socket.AF_INET6,
                                  dualstack_ipv6=True) as s:
            return s.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY) == 0
    except (OSError, ValueError, AttributeError):
        return False


@functools.cache
def constant_available(name: str) -> bool:
    """True if ``socket.<name>`` exists (and, for type flags, is accepted).

    Why: ``SOCK_NONBLOCK`` and ``SOCK_CLOEXEC`` are only meaningful if the
    kernel accepts them in ``socket()``'s type argument, which old kernels and
    some platforms do not; everything else is a plain ``hasattr`` check.
    """
    if not hasattr(socket, name):
        return False
    if name in ("SOCK_NONBLOCK", "SOCK_CLOEXEC"):
        try:
            flag = getattr(socket, name)
            socket.socket(socket.AF_INET, socket.SOCK_STREAM | flag).close()
        except OSError:
            return False
    return True


def _msg_peek_works() -> bool:
    """MSG_PEEK exists and leaves the peeked bytes in the receive queue."""
    if not hasattr(socket, "MSG_PEEK"):
        return False
    try:
        a, b = socket.socketpair()
    except OSError:  # pragma: no cover - socketpair exists everywhere on 3.5+
        return False
    with a, b:
        b.settimeout(1.0)
        a.sendall(b"x")
        try:
            return b.recv(1, socket.MSG_PEEK) == b"x" and b.recv(1) == b"x"
        except OSError:  # pragma: no cover - defensive
            return False


def _reuseport_works() -> bool:
    """SO_REUSEPORT exists and the kernel accepts it (some reject with ENOPROTOOPT)."""
    if not hasattr(socket, "SO_REUSEPORT"):
        return False
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    except OSError:
        return False
    return True


_FEATURE_PROBES: dict[str, Callable[[], bool]] = {
    "MSG_PEEK": _msg_peek_works,
    "sendmsg": lambda: hasattr(socket.socket, "sendmsg"),
    "recvmsg": lambda: hasattr(socket.socket, "recvmsg"),
    "SO_REUSEPORT": _reuseport_works,
    # socket.sendfile exists everywhere (it falls back to send()); the
    # zero-copy path needs os.sendfile.
    "sendfile": lambda: hasattr(socket.socket, "sendfile"),
    "zero_copy_sendfile": lambda: hasattr(os, "sendfile"),
    "AF_UNIX": unix_available,
    "IPv6": ipv6_available,
    "dualstack": dualstack_available,
}

#: Names accepted by :func:`feature_available` (plus any ``SOCK_*`` constant).
FEATURES = tuple(_FEATURE_PROBES) + ("SOCK_NONBLOCK", "SOCK_CLOEXEC")


@functools.cache
def feature_available(name: str) -> bool:
    """True if the named optional feature works on this platform.

    Why: notebook test cells probe before they use anything optional, and
    one entry point with readable names ("MSG_PEEK", "AF_UNIX", "IPv6",
    "dualstack", "SO_REUSEPORT", "sendmsg", "SOCK_NONBLOCK", ...) keeps
    those cells short.  Unknown names raise ``ValueError`` so a typo is not
    silently reported as "unavailable".
    """
    probe = _FEATURE_PROBES.get(name)
    if probe is not None:
        return bool(probe())
    if name.startswith(("SOCK_", "AF_", "SO_", "MSG_", "TCP_", "IPPROTO_")):
        return constant_available(name)
    raise ValueError(f"unknown feature {name!r}; known: {', '.join(FEATURES)}")


def platform_summary() -> dict:
    """Map each feature in :data:`FEATURES` to whether it works here.

    Why: printed at the top of a notebook or a bug report, it explains at a
    glance why a test was skipped on someone's machine.
    """
    return {name: feature_available(name) for name in FEATURES}


def skip_unless(condition: bool, reason: str) -> bool:
    """Return ``condition``; when it is False print why the test is skipped.

    Why: an nbgrader test cell cannot raise ``SkipTest`` (that would count as
    a failure), so it guards its body with ``if skip_unless(...):`` and the
    printed line tells the learner *where* and *why* nothing was checked::

        if skip_unless(unix_available(), "AF_UNIX is not available on this platform"):
            check_something(...)
    """
    if not condition:
        print(f"SKIPPED on this platform: {reason} ({sys.platform})")
    return bool(condition)
