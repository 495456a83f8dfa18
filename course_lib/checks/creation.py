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

from .. import faults
from ..learner import LearnerProcess, process_of
from ..probes import ipv6_available, skip_unless
from ..resources import assert_no_fd_leak, describe_fd, hard_close, new_socket_fds, open_fds, record_unclosed
from ..timing import scaled
from .vocabulary import _fail

__all__ = [
    "check_open_socket",
    "check_describe",
    "check_adopt",
    "check_inheritable_copy",
    "check_bind_all",
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
    if not isinstance(sock, socket.socket):
        raise _fail(f"{what}: expected a socket.socket object, got {type(sock).__name__} ({sock!r})")
    if sock.family != family:
        raise _fail(f"{what}: expected family {_name(family)}, got {_name(sock.family)}")
    if sock.type != kind:
        raise _fail(f"{what}: expected type {_name(kind)}, got {_name(sock.type)}")
    if sock.proto != 0:
        raise _fail(f"{what}: expected proto 0 (let the system pick the protocol), got {sock.proto}")
    if sock.fileno() < 0:
        raise _fail(f"{what}: expected an open socket (fileno() >= 0), got fileno() == {sock.fileno()}: "
                    "it was closed before you returned it")


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
        raise _fail(f"{what}: sent {payload!r} from the peer, but receiving raised {exc!r}") from None
    finally:
        if receiver.fileno() != -1:
            receiver.settimeout(old_timeout)
    if got != payload:
        raise _fail(f"{what}: the peer sent {payload!r} but {got!r} arrived "
                    "(is it connected to the same socket?)")


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
                    if leaked:
                        raise _fail(f"{what} raised {exc!r} as it should, but left {len(leaked)} "
                                    f"descriptor(s) open: " + "; ".join(describe_fd(fd) for fd in leaked)
                                    + ".", hint="close what you opened before the error propagates "
                                                "(try/finally, or `with`)") from exc
            else:
                if expect_error is not None:
                    raise _fail(f"{what}: expected {expect_error.__name__} to be raised, "
                                f"but it returned {outcome!r}")
    sockets = unclosed.sockets()
    if sockets:
        raise _fail(f"{what} left {len(sockets)} socket(s) for the garbage collector to close: "
                    + "; ".join(sockets[:3]) + ".",
                    hint="close every socket you open, on every path (use `with`, or try/finally)")
    return outcome


# -- the section's exercises ---------------------------------------------------------------------

def _close(*values) -> None:
    for value in values:
        if isinstance(value, socket.socket):
            value.close()


def check_open_socket(open_socket, *, edge_cases: bool = True) -> None:
    """``open_socket(transport="tcp", version=4)``: a new socket of the family and type asked for.

    Basic: IPv4 TCP (the defaults and spelled out) and UDP.  Edge cases: an unknown transport or
    version raises ValueError, and IPv6 TCP and UDP sockets (where IPv6 is usable).
    """
    for args, kind in [((), socket.SOCK_STREAM), (("tcp", 4), socket.SOCK_STREAM),
                       (("udp", 4), socket.SOCK_DGRAM)]:
        s = open_socket(*args)
        try:
            check_socket(s, socket.AF_INET, kind, what=f"open_socket{args}")
        finally:
            _close(s)
    if not edge_cases:
        return
    for bad in [("sctp", 4), ("tcp", 5), ("udp", "6")]:
        try:
            made = open_socket(*bad)
        except ValueError:
            continue
        _close(made)
        raise _fail(f"open_socket{bad!r} should raise ValueError, but it returned {made!r}.",
                    hint="check both arguments first and raise ValueError for anything else")
    if skip_unless(ipv6_available(), "IPv6 is not usable here, so open_socket(..., 6) was not checked"):
        for transport, kind in [("tcp", socket.SOCK_STREAM), ("udp", socket.SOCK_DGRAM)]:
            s6 = open_socket(transport, 6)
            try:
                check_socket(s6, socket.AF_INET6, kind, what=f"open_socket({transport!r}, 6)")
            finally:
                _close(s6)


def check_describe(describe, *, edge_cases: bool = True) -> dict:
    """``describe(sock) -> dict``: family, type, proto, fileno and closed, for open and closed sockets.

    Basic: a new TCP socket, open and then closed (returns what ``describe`` said of the open one).
    Edge cases: enum members (not ints) for family and type, a UDP socket (left open), a socketpair
    end, and a detached socket.  The descriptor number is the one the socket has in the process
    ``describe`` runs in (course_lib.learner: in the judge, read from the kernel's /proc/<pid>/fd).
    """
    where = process_of(describe)
    s = socket.socket()
    with s:
        with where.numbering():
            first = describe(s)
        said = first.get("fileno") if isinstance(first, dict) else None
        expected = {"family": socket.AF_INET, "type": socket.SOCK_STREAM, "proto": 0,
                    "fileno": where.number(s, said), "closed": False}
        if first != expected:
            raise _fail("describe() of a new TCP socket is wrong.", expected=expected, got=first)
    got = describe(s)
    if not isinstance(got, dict) or got.get("fileno") != -1 or got.get("closed") is not True:
        raise _fail("after the with block the socket is closed, but describe() did not say so.",
                    expected="fileno -1 and closed True", got=got)
    if got.get("family") != socket.AF_INET:
        raise _fail("a closed socket still knows its family.", expected=socket.AF_INET, got=got)
    if not edge_cases:
        return first
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
        got = describe(u)
        for key, kind, shown in (("family", socket.AddressFamily, "<AddressFamily.AF_INET: 2>"),
                                 ("type", socket.SocketKind, "<SocketKind.SOCK_DGRAM: 2>")):
            if not isinstance(got.get(key), kind):
                raise _fail(f"{key!r} should be a socket.{kind.__name__} member (its repr is {shown}).",
                            got=f"{got.get(key)!r} of type {type(got.get(key)).__name__}")
        if got["type"] != socket.SOCK_DGRAM or got["closed"] is not False:
            raise _fail("describe() of an open UDP socket is wrong.", got=got)
        if u.fileno() == -1:
            raise _fail("describe() must not close the socket it describes.")
    a, b = socket.socketpair()
    with a, b:
        with where.numbering():
            got = describe(a)
        number = where.number(a, got.get("fileno") if isinstance(got, dict) else None)
        if got["family"] != a.family or got["fileno"] != number:
            raise _fail("describe() of a socketpair end is wrong.",
                        expected=f"family {a.family!r}, fileno {number}", got=got)
        fd = b.detach()
        socket.socket(fileno=fd).close()
        got = describe(b)
        if got["closed"] is not True or got["fileno"] != -1:
            raise _fail("a detached socket has no descriptor any more.",
                        expected="closed True and fileno -1", got=got)
    return first


def _moved(a, new, fd: int, family, kind, what: str, where: LearnerProcess) -> None:
    """``new`` owns ``a``'s descriptor ``fd`` now, and ``a`` let go of it (numbers as ``where`` has them)."""
    if not isinstance(new, socket.socket) or new is a:
        raise _fail(f"{what} should return a new socket object.", got=repr(new))
    fd = where.given_number(a, fd)
    number = where.number(new)
    if number != fd:
        raise _fail(f"the new object should own the same descriptor ({fd}), but its fileno() is "
                    f"{number}.")
    if a.fileno() != -1:
        raise _fail(f"the old object should have let go of descriptor {fd}, but its fileno() is "
                    f"still {a.fileno()}: two objects now own one descriptor.",
                    hint="socket.socket(fileno=old.detach())")
    if (new.family, new.type) != (family, kind):
        raise _fail(f"{what} returned a socket of the wrong kind.",
                    expected=f"{family!r} {kind!r}", got=f"{new.family!r} {new.type!r}")


def check_adopt(adopt, *, edge_cases: bool = True) -> None:
    """``adopt(sock)``: a new socket object owning ``sock``'s descriptor, which ``sock`` lets go of.

    Basic: a connected IPv4 TCP socket (data must still flow through the new object).  Edge cases:
    a bound UDP socket (its address is kept) and a socketpair end.  Descriptor numbers are those of
    the process ``adopt`` runs in (course_lib.learner: in the judge, the kernel's).
    """
    where = process_of(adopt)
    with tcp_pair() as (a, b), _adopting(adopt, where, a, socket.SOCK_STREAM, "adopt(sock)") as new:
        assert_carries(b, new, b"hello, new owner", what="the adopted socket")
    if not edge_cases:
        return
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with u:
        u.bind(("127.0.0.1", 0))
        bound = u.getsockname()
        with _adopting(adopt, where, u, socket.SOCK_DGRAM, "adopting a UDP socket") as new:
            if new.getsockname() != bound:
                raise _fail("the adopted UDP socket lost its address.", expected=bound,
                            got=new.getsockname())
    pa, pb = socket.socketpair()
    with pa, pb, _adopting(adopt, where, pa, socket.SOCK_STREAM, "adopting a socketpair end") as moved:
        assert_carries(pb, moved, b"pair", what="the adopted socketpair end")


@contextlib.contextmanager
def _adopting(adopt, where: LearnerProcess, sock, kind, what: str):
    """``adopt(sock)``, checked to own ``sock``'s descriptor (see _moved); released after the block."""
    fd, family = sock.fileno(), sock.family
    with where.numbering():
        new = adopt(sock)
    try:
        _moved(sock, new, fd, family, kind, what, where)
        yield new
    finally:
        release_clone(sock, new)


def check_inheritable_copy(inheritable_copy, *, edge_cases: bool = True) -> None:
    """``inheritable_copy(sock)``: a duplicate with its own descriptor, inheritable, on the same connection.

    Edge cases: the original stays open, not inheritable, and usable after the copy is closed; the
    copy keeps the original's timeout.
    """
    with tcp_pair() as (a, b):
        c = inheritable_copy(a)
        try:
            if not isinstance(c, socket.socket) or c is a:
                raise _fail("inheritable_copy(sock) should return a new socket object.", got=repr(c))
            if c.fileno() == a.fileno():
                raise _fail(f"the copy should have its own descriptor, but both use {c.fileno()}.",
                            hint="sock.dup() makes a new descriptor for the same connection")
            if c.get_inheritable() is not True:
                raise _fail("the copy should be inheritable (get_inheritable() is False).")
            assert_carries(b, c, b"through the copy", what="the inheritable copy")
        finally:
            release_clone(a, c)
    if not edge_cases:
        return
    with tcp_pair() as (orig, peer):
        orig.settimeout(0.75)
        twin = inheritable_copy(orig)
        try:
            if orig.fileno() == -1:
                raise _fail("the original socket should stay open: the parent still uses it.")
            if orig.get_inheritable() is not False:
                raise _fail("the original socket became inheritable too: only the copy should be, or "
                            "every later child process inherits the parent's socket.")
            if twin.gettimeout() != 0.75:
                raise _fail("the copy should keep the original's timeout.", expected=0.75,
                            got=repr(twin.gettimeout()))
            twin.close()
            assert_carries(peer, orig, b"original still works",
                           what="the original socket, after closing the copy")
        finally:
            release_clone(orig, twin)


def _ports(ports, n: int, what: str) -> None:
    if not isinstance(ports, list) or len(ports) != n:
        raise _fail(f"{what} should return a list of {n} ports.", got=repr(ports))
    if not all(isinstance(p, int) and 0 < p < 65536 for p in ports):
        raise _fail(f"{what} should return port numbers.", got=repr(ports))


def check_bind_all(bind_all, *, edge_cases: bool = True) -> list:
    """``bind_all(hosts) -> list[int]``: bind one TCP socket per host on port 0, report the ports, close all.

    Basic: three loopback hosts (three different ports, nothing left open; returns the ports).  Edge
    cases: a host this machine does not have (OSError, nothing left open), no hosts, IPv6 and IPv4
    mixed, and the sockets bound are TCP.
    """
    ports = check_closes_everything(bind_all, ["127.0.0.1"] * 3, what="bind_all(['127.0.0.1'] * 3)")
    _ports(ports, 3, "bind_all(['127.0.0.1'] * 3)")
    if len(set(ports)) != 3:
        raise _fail("bind_all(['127.0.0.1'] * 3) should return 3 different ports.", got=repr(ports),
                    hint="keep the sockets open until all are bound")
    if not edge_cases:
        return ports
    # 192.0.2.1 is a documentation-only address that no machine has: binding to it fails.
    check_closes_everything(bind_all, ["127.0.0.1", "127.0.0.1", "192.0.2.1"], expect_error=OSError,
                            what="bind_all with an address this machine does not have")
    got = check_closes_everything(bind_all, [], what="bind_all([])")
    if got != []:
        raise _fail("bind_all([]) should return [].", got=repr(got))
    if skip_unless(ipv6_available(), "IPv6 is not usable here, so bind_all(['::1', ...]) was not checked"):
        both = check_closes_everything(bind_all, ["::1", "127.0.0.1"], what="bind_all(['::1', '127.0.0.1'])")
        _ports(both, 2, "bind_all(['::1', '127.0.0.1'])")
    with faults.watch("bind", look=faults.type_of) as kinds:
        check_closes_everything(bind_all, ["127.0.0.1", "127.0.0.1"], what="bind_all(['127.0.0.1'] * 2)")
    if not kinds or not all(k == socket.SOCK_STREAM for k in kinds):
        raise _fail("bind_all should bind TCP sockets (SOCK_STREAM), but it bound sockets of type "
                    f"{sorted(set(map(str, kinds)))}.")
    return ports
