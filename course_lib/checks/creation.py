"""Checks for section 01 (creating sockets): the test cells of ``creation.ipynb`` call these.

Why this module exists: the section's exercises hand the learner a socket (or ask for one) and then
check *what kind of object came back* and *who owns which descriptor*.  Those checks repeat across
cells (is this an AF_INET stream socket? does data sent by the peer arrive through the clone? did
anything stay open?), so they live here once, with messages written for learners.  Everything stays
on loopback or a socketpair and every wait has a deadline, so a wrong answer fails in well under a
second and never hangs the kernel.
"""

from __future__ import annotations

import contextlib
import socket

from ..resources import assert_no_fd_leak, describe_fd, hard_close, new_socket_fds, open_fds, record_unclosed
from ..timing import scaled

__all__ = [
    "check_socket",
    "tcp_pair",
    "assert_carries",
    "release_clone",
    "check_closes_everything",
]

#: How long a test waits for bytes that were already sent on loopback.
_RECV_WAIT = scaled(1.0)


def _name(value) -> str:
    """``AddressFamily.AF_INET`` -> ``'AF_INET'``; plain ints stay numbers."""
    return getattr(value, "name", repr(value))


def check_socket(sock, family, kind, what: str = "your socket") -> None:
    """Assert that ``sock`` is an open socket object of ``family`` and ``kind`` with protocol 0.

    Why: the first exercises return sockets; one check with one set of messages ("expected
    SOCK_DGRAM, got SOCK_STREAM") keeps the test cells short and the feedback consistent.
    """
    assert isinstance(sock, socket.socket), (
        f"{what}: expected a socket.socket object, got {type(sock).__name__} ({sock!r})"
    )
    assert sock.family == family, (
        f"{what}: expected family {_name(family)}, got {_name(sock.family)}"
    )
    assert sock.type == kind, f"{what}: expected type {_name(kind)}, got {_name(sock.type)}"
    assert sock.proto == 0, (
        f"{what}: expected proto 0 (let the system pick the protocol), got {sock.proto}"
    )
    assert sock.fileno() >= 0, (
        f"{what}: expected an open socket (fileno() >= 0), got fileno() == {sock.fileno()}: "
        "it was closed before you returned it"
    )


@contextlib.contextmanager
def tcp_pair(family=socket.AF_INET):
    """Yield two connected TCP sockets ``(a, b)`` on loopback, closed (hard) on exit.

    Why: ``socket.socketpair()`` is AF_UNIX on Linux and macOS but AF_INET on Windows; tests that
    need an IPv4 TCP connection everywhere build it from a listener on ``127.0.0.1`` port 0.  Both
    ends have a timeout, so a test that waits for data fails instead of hanging.
    """
    host = "::1" if family == socket.AF_INET6 else "127.0.0.1"
    with socket.socket(family, socket.SOCK_STREAM) as listener:
        listener.bind((host, 0))
        listener.listen(1)
        listener.settimeout(_RECV_WAIT)
        a = socket.create_connection(listener.getsockname()[:2], timeout=_RECV_WAIT)
        try:
            b, _ = listener.accept()
        except BaseException:
            a.close()
            raise
    b.settimeout(_RECV_WAIT)
    try:
        yield a, b
    finally:
        hard_close(a)
        hard_close(b)


def assert_carries(sender, receiver, payload: bytes = b"ping", what: str = "the socket") -> None:
    """Send ``payload`` from ``sender`` and assert it arrives, whole, through ``receiver``.

    Why: the only way to prove that a clone or an adopted descriptor is *the same connection* is
    to push bytes through it.  Waits at most about a second; the message shows what was sent and
    what arrived.
    """
    sender.sendall(payload)
    old_timeout = receiver.gettimeout()
    receiver.settimeout(_RECV_WAIT)
    got = b""
    try:
        while len(got) < len(payload):
            chunk = receiver.recv(len(payload) - len(got))
            if not chunk:
                break
            got += chunk
    except socket.timeout:
        pass
    except OSError as exc:
        raise AssertionError(
            f"{what}: sent {payload!r} from the peer, but receiving raised {exc!r}"
        ) from None
    finally:
        if receiver.fileno() != -1:
            receiver.settimeout(old_timeout)
    assert got == payload, (
        f"{what}: the peer sent {payload!r} but {got!r} arrived "
        "(is it connected to the same socket?)"
    )


def release_clone(original, clone) -> None:
    """Close ``clone`` safely, even if a wrong answer left it sharing ``original``'s descriptor.

    Why: ``socket.socket(fileno=s.fileno())`` without ``detach()`` makes two Python objects own one
    descriptor; closing both would close that number twice, and the second close can hit an
    unrelated file the kernel has since given the same number (in a notebook: the kernel's own
    connection).  Detaching the original first leaves exactly one owner.
    """
    if not isinstance(clone, socket.socket) or clone is original:
        return
    if clone.fileno() != -1 and clone.fileno() == original.fileno():
        original.detach()
    hard_close(clone)


def check_closes_everything(fn, *args, expect_error: type | None = None,
                            what: str = "your function"):
    """Call ``fn(*args)`` and fail if it leaves a socket open; return its result.

    Why: a forgotten ``close()`` is invisible when CPython garbage-collects the socket right away,
    so this watches two things: descriptors still open afterwards (sockets kept alive somewhere)
    and the ``ResourceWarning: unclosed <socket ...>`` that CPython emits when it has to close one
    for you.  With ``expect_error`` the call must raise that exception (which is returned), and the
    descriptors are counted *while the exception is alive*, since its traceback still holds the
    function's local variables.
    """
    outcome = None
    with record_unclosed() as unclosed:
        with assert_no_fd_leak(what):
            before = open_fds()
            try:
                outcome = fn(*args)
            except Exception as exc:  # noqa: BLE001 - re-raised below unless expected
                if expect_error is None or not isinstance(exc, expect_error):
                    raise
                outcome = exc
                if before is not None:
                    leaked = new_socket_fds(before)
                    assert not leaked, (
                        f"{what} raised {exc!r} as it should, but left "
                        f"{len(leaked)} descriptor(s) open: "
                        + "; ".join(describe_fd(fd) for fd in leaked)
                        + ". Close what you opened before the error propagates "
                        "(try/finally, or `with`)."
                    )
            else:
                if expect_error is not None:
                    raise AssertionError(
                        f"{what}: expected {expect_error.__name__} to be raised, "
                        f"but it returned {outcome!r}"
                    )
    sockets = unclosed.sockets()
    assert not sockets, (
        f"{what} left {len(sockets)} socket(s) for the garbage collector to close: "
        + "; ".join(sockets[:3])
        + ". Close every socket you open, on every path (use `with`, or try/finally)."
    )
    return outcome
