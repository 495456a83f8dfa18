"""Real socket errors on demand, and the spies section 06's checks use.

Why this module exists: teaching the error model means *showing* each error,
and a test of error handling is only honest if the error really happens.
Everything here produces real errors deterministically on loopback, with no
DNS and no sleeps to synchronise, and checks that learner code cleans up:

* :func:`provoke` returns a real, caught exception of a named kind
  (refused, reset, broken pipe, timeout, would block, address in use,
  resolution failure), raising AssertionError if the platform did not
  produce it.
* :func:`no_leaks` fails a block that leaves sockets open, whether the
  descriptor is still open or Python had to close a forgotten socket
  itself (a ``ResourceWarning``).
* :func:`count_connect_attempts` counts connection attempts made inside a
  block (a spy on ``socket.socket.connect``/``connect_ex``), so a retry loop
  that hammers the server can be told from one that backs off.
* :func:`send_until_false` calls a learner's send helper until it reports a
  dead peer, bounded by a deadline (on TCP the first sends after the peer
  vanished may still succeed).
"""

from __future__ import annotations

import contextlib
import socket

from .. import faults
from ..failures import describe_exception as describe
from ..failures import exception_name
from ..peers import refused_address, reset_server
from ..probes import unix_available
from ..resources import assert_no_fd_leak, record_unclosed
from ..timing import Deadline, scaled
from ..transcript import show

__all__ = ["KINDS", "provoke", "describe", "returned", "broken_pipe_is_deterministic", "no_leaks",
           "count_connect_attempts", "send_until_false"]

#: The kinds :func:`provoke` can produce.
KINDS = ("refused", "reset", "broken_pipe", "timeout", "would_block", "addr_in_use",
         "resolution")


def broken_pipe_is_deterministic() -> bool:
    """True if ``socketpair`` is AF_UNIX here, so writing to a closed peer fails at once.

    Why: on Windows ``socketpair`` is emulated with TCP on loopback, where the
    first send after the peer closed may still succeed; only an AF_UNIX pair
    reports the closed peer on the very first send.
    """
    if not unix_available():
        return False
    a, b = socket.socketpair()
    with a, b:
        return a.family == getattr(socket, "AF_UNIX", None)


def returned(value) -> str:
    """What a learner's function returned, as failures show values; closes it first if it is a socket.

    Why: when a test fails because a function returned a socket where it
    should have raised, the message should show that socket (its addresses),
    and the test must not leak it; the repr is taken before closing.
    """
    text = show(value)
    if isinstance(value, socket.socket):
        value.close()
    return text


def _refused() -> None:
    with refused_address() as address, socket.socket() as s:
        s.settimeout(scaled(1.0))
        s.connect(address)


def _reset() -> None:
    with reset_server(read=1) as server:
        with socket.create_connection(server.address, timeout=scaled(1.0)) as s:
            s.sendall(b"x")
            s.recv(1)  # the server answers the byte with RST


def _broken_pipe() -> None:
    if not broken_pipe_is_deterministic():
        raise AssertionError("broken_pipe can only be provoked deterministically with an AF_UNIX "
                             "socketpair, which this platform lacks")
    a, b = socket.socketpair()
    with a:
        b.close()
        a.send(b"x")


def _timeout() -> None:
    a, b = socket.socketpair()
    with a, b:
        b.settimeout(scaled(0.02))
        b.recv(1)  # nothing was sent


def _would_block() -> None:
    a, b = socket.socketpair()
    with a, b:
        b.setblocking(False)
        b.recv(1)


def _addr_in_use() -> None:
    with socket.socket() as first:
        first.bind(("127.0.0.1", 0))
        first.listen()
        with socket.socket() as second:
            second.bind(first.getsockname())


def _resolution() -> None:
    socket.getaddrinfo("localhost", 80, flags=socket.AI_NUMERICHOST)


_PROVOKERS = {"refused": _refused, "reset": _reset, "broken_pipe": _broken_pipe,
              "timeout": _timeout, "would_block": _would_block, "addr_in_use": _addr_in_use,
              "resolution": _resolution}


def provoke(kind: str) -> OSError:
    """Make a real socket error of ``kind`` happen on loopback and return it.

    ``kind`` is one of :data:`KINDS`.  Every socket involved is closed before
    this returns.  Raises AssertionError if the operation unexpectedly
    succeeded (so a test built on it cannot pass vacuously).
    """
    try:
        fn = _PROVOKERS[kind]
    except KeyError:
        raise ValueError(f"unknown kind {kind!r}; choose from {', '.join(KINDS)}") from None
    try:
        fn()
    except OSError as exc:
        exc.__traceback__ = None  # do not keep the frames (and their sockets) alive
        return exc
    raise AssertionError(f"expected a {kind} error, but the operation succeeded")


@contextlib.contextmanager
def no_leaks(what: str = "your function"):
    """Fail if the block leaves a socket open or lets Python close one it forgot.

    Why: a function that forgets ``close()`` on an error path often goes
    unnoticed, because CPython closes the socket as soon as the object is
    garbage; counting descriptors alone misses that.  This combines
    :func:`~course_lib.resources.assert_no_fd_leak` (descriptors still open)
    with :func:`~course_lib.resources.record_unclosed` (sockets closed only
    by the garbage collector, with a ResourceWarning).
    """
    with record_unclosed() as unclosed:
        with assert_no_fd_leak(what):
            yield
    dropped = unclosed.sockets()
    if dropped:
        n = len(dropped)
        raise AssertionError(
            f"{what} dropped {n} socket{'s' if n != 1 else ''} without closing "
            f"{'them' if n != 1 else 'it'} (Python closed {'them' if n != 1 else 'it'} later, "
            f"when the object was garbage-collected): {dropped[0]}. Close sockets on every path: "
            f"use `with`, or `finally`.")


class _Counter:
    def __init__(self) -> None:
        self.attempts = 0
        self.addresses: list = []
        self.outside: int | None = None  # the attempts a judge saw in the kernel's network, from outside


@contextlib.contextmanager
def count_connect_attempts():
    """Count ``connect``/``connect_ex`` calls made on any socket inside the block.

    Yields an object with ``.attempts`` and ``.addresses``.  Works for code
    that calls ``sock.connect`` directly and for ``socket.create_connection``
    (which calls ``connect`` on the socket it creates).

    Why: "retries with backoff" is a promise about *how often* a client
    knocks; the only reliable way to check it is to count the knocks.
    A judge forwards the block to the learner's kernel (faults.forwarded), which
    counts the calls made there and reports them back into this object.
    """
    counter = _Counter()
    cls = socket.socket
    real_connect, real_connect_ex = cls.connect, cls.connect_ex

    def connect(self, address):
        counter.attempts += 1
        counter.addresses.append(address)
        return real_connect(self, address)

    def connect_ex(self, address):
        counter.attempts += 1
        counter.addresses.append(address)
        return real_connect_ex(self, address)

    def merge(result) -> None:
        counter.attempts = result.get("attempts", counter.attempts)
        counter.addresses.extend(result.get("addresses", []))

    def witness(seen: dict) -> None:
        if isinstance(seen.get("attempts"), int):
            counter.outside = (counter.outside or 0) + seen["attempts"]

    cls.connect, cls.connect_ex = connect, connect_ex
    try:
        with faults.forwarded({"kind": "count_connect_attempts"}, merge,
                              state=lambda: {"attempts": counter.attempts}, witness=witness):
            yield counter
        if counter.outside is not None:  # judged: the count seen from outside, not the kernel's report
            counter.attempts = counter.outside
    finally:
        # the instance-level lookups fall back to _socket.socket's methods
        del cls.connect
        del cls.connect_ex
        if cls.connect is not real_connect:  # pragma: no cover - defensive
            cls.connect, cls.connect_ex = real_connect, real_connect_ex


def send_until_false(robust_send, sock, data: bytes, deadline: float | None = None) -> int:
    """Call ``robust_send(sock, data)`` until it returns False; return how many calls it took.

    Why: on TCP the first sends after the peer vanished usually succeed (the
    bytes are only queued); the error shows up on a later send, once the
    peer's RST has arrived.  A deadline bounds the loop, and any exception
    from the learner's function propagates to the test.
    """
    limit = Deadline(scaled(1.0) if deadline is None else deadline)
    calls = 0
    while True:
        calls += 1
        try:
            result = robust_send(sock, data)
        except Exception as exc:  # noqa: BLE001 - reported to the learner
            raise AssertionError(
                f"call {calls} of robust_send raised {exception_name(exc)}: {exc}; the peer had "
                f"closed or reset the connection, so robust_send should return False instead"
            ) from exc
        if result is False:
            return calls
        if result is not True:
            raise AssertionError(f"robust_send should return True or False, got {result!r}")
        if limit.expired():
            raise AssertionError(
                f"robust_send kept returning True for {calls} calls ({limit.seconds:g} s) although "
                f"the peer had closed or reset the connection")
