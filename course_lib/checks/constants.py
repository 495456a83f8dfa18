"""Checks for section 02 (constants): the test cells of ``constants.ipynb`` call these.

Why this module exists: the section's exercises are about *which* constants a platform has and
what the kernel really does with them.  Testing that honestly needs two things a test cell should
not spell out each time: a way to pretend a constant is missing (to prove a learner's code probes
with ``hasattr`` instead of assuming Linux), and the ground truth read back from the kernel with
``getsockopt`` (which may differ from what was asked for: Linux doubles ``SO_RCVBUF``).
"""

from __future__ import annotations

import contextlib
import socket

from ..probes import constant_available, ipv6_available

__all__ = [
    "SUPPORT_KEYS",
    "expected_support",
    "pretend_platform",
    "read_options",
]

#: The keys ``platform_support()`` reports, in the order the notebook lists them.
SUPPORT_KEYS = ("AF_UNIX", "IPv6", "SOCK_SEQPACKET", "SOCK_RDM", "SOCK_NONBLOCK", "SOCK_CLOEXEC")

_MISSING = object()


def _unix_creatable() -> bool:
    if not hasattr(socket, "AF_UNIX"):
        return False
    try:
        socket.socket(socket.AF_UNIX, socket.SOCK_STREAM).close()
    except OSError:
        return False
    return True


def expected_support() -> dict:
    """What ``platform_support()`` should report here, from course_lib's probes.

    Why: the exercise asks the learner to write the probes that :mod:`course_lib.probes` already
    has; comparing against those (which try each thing once, on loopback) is the honest check.
    ``AF_UNIX`` means "an AF_UNIX socket can be created", as the exercise defines it.
    """
    return {
        "AF_UNIX": _unix_creatable(),
        "IPv6": ipv6_available(),
        "SOCK_SEQPACKET": hasattr(socket, "SOCK_SEQPACKET"),
        "SOCK_RDM": hasattr(socket, "SOCK_RDM"),
        "SOCK_NONBLOCK": constant_available("SOCK_NONBLOCK"),
        "SOCK_CLOEXEC": constant_available("SOCK_CLOEXEC"),
    }


@contextlib.contextmanager
def pretend_platform(*missing: str, **overrides):
    """Temporarily remove ``socket.<name>`` for each name in ``missing`` and set ``overrides``.

    Why: on the grader's Linux machine every constant exists, so code that uses
    ``socket.SOCK_NONBLOCK`` without checking would pass and then crash on a learner's Mac.
    Removing the name for the duration of one call shows what that code does where the constant
    does not exist.  Everything is restored on exit, even if the code under test raised.
    (Only the Python-level names change; sockets already open are unaffected.)
    """
    saved = {}
    try:
        for name in missing:
            saved[name] = getattr(socket, name, _MISSING)
            if saved[name] is not _MISSING:
                delattr(socket, name)
        for name, value in overrides.items():
            saved.setdefault(name, getattr(socket, name, _MISSING))
            setattr(socket, name, value)
        yield
    finally:
        for name, value in saved.items():
            if value is _MISSING:
                if hasattr(socket, name):
                    delattr(socket, name)
            else:
                setattr(socket, name, value)


def read_options(sock) -> dict:
    """Read back SO_REUSEADDR, TCP_NODELAY (None where it does not apply) and SO_RCVBUF.

    Why: the truth about an option is what ``getsockopt`` returns, not what was passed to
    ``setsockopt``; the kernel may round, double (Linux doubles SO_RCVBUF to leave room for its
    bookkeeping) or clamp the value.  Flags are returned as booleans because platforms disagree on
    the number a set flag reads back as (macOS returns the option's bit value, not 1).
    """
    is_tcp = (sock.type == socket.SOCK_STREAM
              and sock.family in (socket.AF_INET, getattr(socket, "AF_INET6", None)))
    return {
        "reuseaddr": bool(sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR)),
        "nodelay": (bool(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
                    if is_tcp else None),
        "rcvbuf": sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF),
    }
