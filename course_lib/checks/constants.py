"""Checks for section 02 (constants): the test cells of ``constants.ipynb`` call these.

Why this module exists: the section's exercises are about *which* constants a platform has and
what the kernel really does with them.  Testing that honestly needs two things a test cell should
not spell out each time: a way to pretend a constant is missing (to prove a learner's code probes
with ``hasattr`` instead of assuming Linux), and the ground truth read back from the kernel with
``getsockopt`` (which may differ from what was asked for: Linux doubles ``SO_RCVBUF``).
"""

from __future__ import annotations

import contextlib
import errno
import socket

from .. import faults
from ..peers import half_close_server
from ..probes import constant_available, ipv6_available, skip_unless
from ..resources import record_unclosed
from ..runners import run_client, run_with_deadline
from ..timing import scaled
from .vocabulary import _fail

__all__ = [
    "check_to_enums",
    "check_platform_support",
    "check_nonblocking_socket",
    "check_tune",
    "check_sniff",
    "check_ask",
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
    (Only the Python-level names change; sockets already open are unaffected.)  A judge forwards
    the block to the learner's kernel (faults.forwarded), where the names are removed too.
    """
    plain = all(value is None or isinstance(value, (bool, int, str)) for value in overrides.values())
    spec = {"kind": "pretend_platform", "missing": list(missing), "overrides": dict(overrides)} if plain else None
    saved = {}
    try:
        for name in missing:
            saved[name] = getattr(socket, name, _MISSING)
            if saved[name] is not _MISSING:
                delattr(socket, name)
        for name, value in overrides.items():
            saved.setdefault(name, getattr(socket, name, _MISSING))
            setattr(socket, name, value)
        with faults.forwarded(spec):
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


# -- the section's exercises (the notebook's test cells call these) ----------------------------

def check_to_enums(to_enums, *, edge_cases: bool = True) -> object:
    """``to_enums(family, kind) -> (AddressFamily, SocketKind)``: numbers as enum members where they exist.

    Basic: AF_INET and SOCK_STREAM (returns what ``to_enums`` gave).  Edge cases: AF_INET6 and
    SOCK_DGRAM, numbers with no member (plain ints back), and one of each.
    """
    got = to_enums(int(socket.AF_INET), int(socket.SOCK_STREAM))
    if not (isinstance(got, tuple) and len(got) == 2):
        raise _fail(f"expected a pair, got {got!r}")
    fam, kind = got
    if not (isinstance(fam, socket.AddressFamily) and fam.name == "AF_INET"):
        raise _fail(f"expected the member AddressFamily.AF_INET, got {fam!r} ({type(fam).__name__})")
    if not (isinstance(kind, socket.SocketKind) and kind.name == "SOCK_STREAM"):
        raise _fail(f"expected the member SocketKind.SOCK_STREAM, got {kind!r} ({type(kind).__name__})")
    shown = got
    if not edge_cases:
        return shown
    six, dgram = to_enums(int(socket.AF_INET6), int(socket.SOCK_DGRAM))
    if (getattr(six, "name", None), getattr(dgram, "name", None)) != ("AF_INET6", "SOCK_DGRAM"):
        raise _fail(f"expected (AF_INET6, SOCK_DGRAM), got {(six, dgram)!r}")
    unknown = to_enums(12345, 999)
    if not (unknown == (12345, 999) and type(unknown[0]) is int and type(unknown[1]) is int):
        raise _fail(f"numbers with no enum member should come back as plain ints, got {unknown!r}")
    mixed = to_enums(12345, int(socket.SOCK_DGRAM))
    if not (mixed[0] == 12345 and getattr(mixed[1], "name", None) == "SOCK_DGRAM"):
        raise _fail(f"each number is converted on its own: expected (12345, SOCK_DGRAM), got {mixed!r}")
    return shown


def check_platform_support(platform_support, *, edge_cases: bool = True) -> object:
    """``platform_support() -> dict``: True/False for each of ``SUPPORT_KEYS``, probed, not assumed.

    Basic: agrees with course_lib's probes on this machine (returns what it said).  Edge cases: a
    pretend platform without the names and without IPv6; names that exist but do not work (AF_UNIX
    and AF_INET6 sockets refused, ``::1`` not bindable, ports below 1024 not bindable); no socket
    left for the garbage collector.
    """
    got = platform_support()
    if not (isinstance(got, dict) and set(got) == set(SUPPORT_KEYS)):
        raise _fail(f"expected a dict with keys {sorted(SUPPORT_KEYS)}, got {got!r}")
    not_bool = {k: v for k, v in got.items() if not isinstance(v, bool)}
    if not_bool:
        raise _fail(f"every value should be True or False, but got {not_bool}")
    want = expected_support()
    wrong = {k: f"you said {got[k]}, the probe says {want[k]}" for k in SUPPORT_KEYS if got[k] != want[k]}
    if wrong:
        raise _fail(f"platform_support() disagrees with course_lib.probes on this machine: {wrong}")
    shown = got
    if not edge_cases:
        return shown
    # Pretend to be a platform without these names and without IPv6 (as on some Windows/macOS/CI setups).
    with pretend_platform("AF_UNIX", "SOCK_RDM", "SOCK_SEQPACKET", "SOCK_NONBLOCK", has_ipv6=False):
        elsewhere = platform_support()
    if not isinstance(elsewhere, dict):
        raise _fail(f"expected a dict, got {elsewhere!r}")
    want = {"AF_UNIX": False, "IPv6": False, "SOCK_SEQPACKET": False, "SOCK_RDM": False,
            "SOCK_NONBLOCK": False, "SOCK_CLOEXEC": expected_support()["SOCK_CLOEXEC"]}
    wrong = {k: f"you said {elsewhere.get(k)!r}, expected {v}" for k, v in want.items() if elsewhere.get(k) != v}
    if wrong:
        raise _fail("on a platform where AF_UNIX, SOCK_RDM, SOCK_SEQPACKET and SOCK_NONBLOCK do not exist and "
                    f"socket.has_ipv6 is False, platform_support() reported: {wrong}")
    # Names that exist but do not work: sockets of a family cannot be created, or ::1 cannot be bound.
    with record_unclosed() as left:
        with faults.refuse_family(socket.AF_UNIX, socket.AF_INET6):
            broken = platform_support()
        if (broken.get("AF_UNIX"), broken.get("IPv6")) != (False, False):
            raise _fail(f"where AF_UNIX and AF_INET6 sockets cannot be created (OSError: address family not "
                        f"supported), platform_support() said AF_UNIX={broken.get('AF_UNIX')!r}, "
                        f"IPv6={broken.get('IPv6')!r}: try to create one instead of trusting the names")
        if broken.get("SOCK_NONBLOCK") != expected_support()["SOCK_NONBLOCK"]:
            raise _fail("without IPv6, SOCK_NONBLOCK still works on an AF_INET socket: got "
                        f"{broken.get('SOCK_NONBLOCK')!r}")
        no_v6 = OSError(errno.EADDRNOTAVAIL, "Cannot assign requested address")
        with faults.inject("bind", no_v6, when=faults.to_address(host="::1")):
            unbound = platform_support()
        if not (unbound.get("IPv6") is False and unbound.get("AF_UNIX") == expected_support()["AF_UNIX"]):
            raise _fail(f"where binding ('::1', 0) fails (IPv6 compiled in, but no ::1 configured), expected "
                        f"IPv6 False, got {unbound!r}")
        no_root = PermissionError(errno.EACCES, "Permission denied")
        with faults.inject("bind", no_root,
                           when=faults.to_address(port_below=1024)):
            unprivileged = platform_support()
        if unprivileged.get("IPv6") != expected_support()["IPv6"]:
            raise _fail(f"as a user who may not bind ports below 1024, platform_support() said IPv6="
                        f"{unprivileged.get('IPv6')!r}: bind ('::1', 0), port 0")
    if left.sockets():
        raise _fail(f"platform_support() left sockets for the garbage collector: {left.sockets()[:2]}")
    return shown


def check_nonblocking_socket(nonblocking_socket, *, edge_cases: bool = True) -> None:
    """``nonblocking_socket(kind=SOCK_STREAM)``: a non-blocking, non-inheritable AF_INET socket.

    Edge case: a platform without SOCK_NONBLOCK and SOCK_CLOEXEC (the socket must still end up
    non-blocking).
    """
    s = nonblocking_socket()
    try:
        if not isinstance(s, socket.socket):
            raise _fail(f"expected a socket, got {s!r}")
        if (s.family, s.type) != (socket.AF_INET, socket.SOCK_STREAM):
            raise _fail(f"expected an AF_INET SOCK_STREAM socket, got {s.family!r} {s.type!r}")
        if not (s.getblocking() is False and s.gettimeout() == 0.0):
            raise _fail(f"expected non-blocking mode (getblocking() False, gettimeout() 0.0), "
                        f"got getblocking() {s.getblocking()}, gettimeout() {s.gettimeout()!r}")
        if s.get_inheritable() is not False:
            raise _fail("the socket should not be inheritable")
    finally:
        if isinstance(s, socket.socket):
            s.close()
    if not edge_cases:
        return
    with pretend_platform("SOCK_NONBLOCK", "SOCK_CLOEXEC"):
        made = nonblocking_socket(socket.SOCK_DGRAM)
    try:
        if not (isinstance(made, socket.socket) and made.type == socket.SOCK_DGRAM):
            raise _fail("nonblocking_socket(SOCK_DGRAM) where the flags do not exist: expected a SOCK_DGRAM socket, "
                        f"got {made!r}")
        if made.getblocking() is not False:
            raise _fail("where SOCK_NONBLOCK does not exist the socket must still end up non-blocking "
                        "(setblocking(False))")
    finally:
        if isinstance(made, socket.socket):
            made.close()


def check_tune(tune, *, edge_cases: bool = True) -> object:
    """``tune(sock, rcvbuf) -> dict``: SO_REUSEADDR, TCP_NODELAY (TCP only) and SO_RCVBUF set, then read back.

    Basic: a TCP socket (returns what ``tune`` reported).  Edge cases: UDP (no TCP_NODELAY), a
    socketpair end, IPv6 TCP, exact types (True, not 1) and SO_RCVBUF really set.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        got = tune(s, 8192)
        actual = read_options(s)
    if not actual["reuseaddr"]:
        raise _fail("SO_REUSEADDR is still off after tune()")
    if not actual["nodelay"]:
        raise _fail("TCP_NODELAY is still off after tune() on a TCP socket")
    if got != actual:
        raise _fail(f"tune() should return what getsockopt reads back now: {actual}, but it returned {got} "
                    "(the kernel may change SO_RCVBUF: report its value, not the one you asked for)")
    shown = got
    if not edge_cases:
        return shown
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
        got = tune(u, 4096)
        actual = read_options(u)
    if not (got == actual and got.get("nodelay") is None):
        raise _fail(f"tune() on a UDP socket: expected {actual} (TCP_NODELAY does not apply), got {got}")
    pair = socket.socketpair()
    with pair[0], pair[1]:
        got = tune(pair[0], 4096)
        actual = read_options(pair[0])
    if got != actual:
        raise _fail(f"tune() on a socketpair end ({pair[0].family.name}): expected {actual}, got {got}")
    if skip_unless(ipv6_available(), "IPv6 is not usable here, so tune() on an AF_INET6 socket was not checked"):
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as t6:
            got = tune(t6, 16384)
            actual = read_options(t6)
        if not (got == actual and actual["nodelay"]):
            raise _fail(f"tune() on an IPv6 TCP socket: expected {actual}, got {got}")
    # Exactly the types asked for (True, not 1), and SO_RCVBUF really set to what was asked.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t4, socket.socket() as reference:
        got = tune(t4, 6144)
        faults.assert_exact(got, read_options(t4), "tune(sock, 6144) on a TCP socket")
        reference.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 6144)
        want = reference.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
        if got["rcvbuf"] != want:
            raise _fail(f"after asking for SO_RCVBUF 6144 the kernel reports {want} on a fresh socket, but "
                        f"tune() left {got['rcvbuf']}: set SO_RCVBUF with setsockopt")
    return shown


def check_sniff(sniff, *, edge_cases: bool = True) -> None:
    """``sniff(sock) -> 'text' | 'tls' | 'binary' | None``: classify waiting bytes with MSG_PEEK, leaving them.

    Edge cases: a TLS record, binary data, a peer that closed without sending (None), and bytes of
    0x80 and more (not ASCII letters).
    """
    request = b"GET / HTTP/1.0\r\n\r\n"
    a, b = socket.socketpair()
    with a, b:
        a.sendall(request)
        got = run_with_deadline(sniff, b, deadline=scaled(1.0), what="sniff(sock)",
                                expected="a classification of the bytes already waiting")
        if got != "text":
            raise _fail(f"data starting with b'G' should be 'text', got {got!r}")
        b.settimeout(scaled(1.0))
        rest = b.recv(1024)
        if rest != request:
            raise _fail(f"sniff() must leave the data in place: the peer sent {request!r}, "
                        f"but afterwards recv() got {rest!r}")
    if not edge_cases:
        return
    for payload, want in [(b"\x16\x03\x01\x00\xa5", "tls"), (b"\x00\x01\x02", "binary"), (b"{}", "binary")]:
        pa, pb = socket.socketpair()
        with pa, pb:
            pa.sendall(payload)
            kind = run_with_deadline(sniff, pb, deadline=scaled(1.0), what=f"sniff() on {payload!r}")
            if kind != want:
                raise _fail(f"data starting with {payload[:1]!r} should be {want!r}, got {kind!r}")
    pa, pb = socket.socketpair()
    with pa, pb:
        pa.shutdown(socket.SHUT_WR)            # the peer closes without sending anything
        kind = run_with_deadline(sniff, pb, deadline=scaled(1.0), what="sniff() after the peer closed")
        if kind is not None:
            raise _fail(f"when the peer closed without sending, sniff() should return None, got {kind!r}")
    # Bytes of 0x80 and more: "é" is a letter in Latin-1 (chr(0xE9).isalpha() is True), not an ASCII letter.
    for payload in (b"\xe9t\xe9", b"\xc3\xa9t\xc3\xa9", b"\xff"):
        pa, pb = socket.socketpair()
        with pa, pb:
            pa.sendall(payload)
            kind = run_with_deadline(sniff, pb, deadline=scaled(1.0), what=f"sniff() on {payload!r}")
            if kind != "binary":
                raise _fail(f"data starting with {payload[:1]!r} (byte {payload[0]}, not an ASCII letter) "
                            f"should be 'binary', got {kind!r}")


def check_ask(ask, *, edge_cases: bool = True) -> object:
    """``ask(sock, request) -> bytes``: send, half-close, read the whole reply; the caller's socket stays open.

    Basic: a server that answers only after the client's EOF (returns the reply).  Edge cases: a
    1 MiB reply, short sends (sendall needed), and the socket left open for its caller.
    """
    with half_close_server() as srv, socket.create_connection(srv.address, timeout=scaled(2.0)) as conn:
        got = run_client(ask, conn, b"hello, server", peer=srv, deadline=scaled(1.5),
                         what="ask(sock, b'hello, server')",
                         expected="the server's reply, b'received 13 bytes', once it sees your end of request",
                         hint="the server answers only after shutdown(socket.SHUT_WR)")
    if got != b"received 13 bytes":
        raise _fail("ask(sock, b'hello, server') returned the wrong reply.", expected=b"received 13 bytes",
                    got=repr(got), transcript=srv.transcript)
    shown = got
    if not edge_cases:
        return shown
    big = bytes(range(256)) * 4096                       # a 1 MiB reply arrives in many pieces
    with half_close_server(reply=lambda request: big) as srv, \
            socket.create_connection(srv.address, timeout=scaled(2.0)) as conn:
        reply = run_client(ask, conn, b"", peer=srv, deadline=scaled(2.0), what="ask(sock, b'')",
                           expected="the whole 1 MiB reply")
    if not (isinstance(reply, bytes) and len(reply) == len(big) and reply == big):
        raise _fail(f"expected the whole reply ({len(big)} bytes), got "
                    f"{len(reply) if isinstance(reply, bytes) else reply!r} bytes.",
                    hint="keep calling recv() until it returns b''", transcript=srv.transcript)
    # send() may send only part of the data (here it always does): the whole request must still go out.
    request = bytes(range(256)) * 400                   # 100 KiB
    with half_close_server() as srv, socket.create_connection(srv.address, timeout=scaled(2.0)) as conn, \
            faults.short_sends():
        reply = run_client(ask, conn, request, peer=srv, deadline=scaled(2.0), what="ask(sock, 100 KiB)",
                           expected="the server's reply to the whole request")
    if not (srv.received == request and reply == b"received 102400 bytes"):
        raise _fail(f"when send() sends only part of its data, the server received {len(srv.received)} of "
                    f"{len(request)} bytes and ask() returned {reply!r}: use sendall()")
    # The caller owns the socket: ask() half-closes it but must leave it open (the caller closes it).
    with half_close_server() as srv, socket.create_connection(srv.address, timeout=scaled(2.0)) as conn:
        run_client(ask, conn, b"ping", peer=srv, deadline=scaled(2.0), what="ask(sock, b'ping')")
        if conn.fileno() == -1:
            raise _fail("ask() closed the caller's socket: leave it open, the caller closes it")
    return shown
