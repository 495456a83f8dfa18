"""Checks for section 07 (multiplexing and TLS): one thread, many sockets, and a secure channel.

Why this module exists: the section's exercises are about *when* a socket
can make progress, which loopback hides.  On loopback ``send`` takes
everything, a connect finishes at once, and every client reads its echo, so
a server that blocks on one slow client or drops the part ``send`` did not
take passes by luck.  The checks here make the awkward cases happen:

* :func:`check_flush`: a non-blocking send that must keep the remainder,
  against a peer that stops reading (the buffer fills) and one that vanished.
* :func:`check_connect_nonblocking`: EINPROGRESS, writable, SO_ERROR, against
  a server, a refused port and (where the platform allows) a connect that is
  never answered (a listener whose backlog is full).
* :func:`check_serve_many`: a selectors echo server; it must serve every
  client from one thread, and a client that uploads 1 MiB and never reads
  its echo must not stall the others (the server's send buffers are made
  small, so a blocking ``sendall`` really blocks).
* :func:`check_relay`: a line-based chat relay: framing per connection,
  lines split across reads or sharing one, a client that closes in the
  middle of a line, one that resets.
* :func:`check_tls_echo`: a TLS client against a loopback TLS server whose
  certificate is made at run time with ``trustme`` (never a real CA, never the
  network); hidden cases present a wrong name and an unknown CA, where
  ``ssl.SSLCertVerificationError`` is the right outcome.

Every check drives learner code through the shared harness (deadlines,
transcripts, nothing left running) and fails with expected / got / hint and
the bytes on the wire.
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import socket
import ssl
import sys
import threading
import time

from .. import faults, peers
from ..checks.drivers import _BIG, UTF8_TEXT, _call, _patience, _seconds, _serve, _timeout_required
from ..checks.vocabulary import _check_closed_all, _closes_its_socket, _fail, _show
from ..failures import CheckFailure
from ..endpoint import Endpoint, PeerStopped, WaitTimeout, connect, harness_threads
from ..peers import Peer
from ..probes import REFUSED_ERRNOS, errno_name, skip_unless
from ..resources import assert_no_fd_leak, hard_close, record_unclosed
from ..runners import HarnessSocket, LearnerTimeout, shape
from ..timing import Deadline, scaled
from ..transcript import Transcript
from .errors import broken_pipe_is_deterministic

__all__ = [
    "check_connect_nonblocking",
    "check_flush",
    "check_relay",
    "check_serve_many",
    "check_tls_echo",
    "loopback_ca",
    "tls_server",
    "unanswered_address",
]

_IN_PROGRESS = {errno.EINPROGRESS, errno.EWOULDBLOCK, errno.EALREADY,
                getattr(errno, "WSAEWOULDBLOCK", errno.EWOULDBLOCK)}
_NOT_NOW = ("BlockingIOError means 'not now', not 'failed': keep what was not sent and try again "
            "when the selector (or select) says the socket is writable")


def _attempt(fn, *args, what: str, deadline=None, peer=None, transcript=None,
             expected=None, hint=None):
    """Call learner code; return (value, None) or (None, the learner's own exception).

    Why: some cases expect an exception (a refused connect, a wrong
    certificate).  The learner's frames are released at once (tracebacks
    cleared), so a socket it forgot to close is reported by
    ``record_unclosed`` around this call, not kept alive by the traceback.
    """
    try:
        return _call(fn, *args, what=what, deadline=deadline, peer=peer, transcript=transcript,
                     expected=expected, hint=hint), None
    except (LearnerTimeout, NotImplementedError):
        raise
    except AssertionError as exc:
        cause = exc.__cause__
        if cause is None:
            raise
        seen = set()
        e = cause
        while e is not None and id(e) not in seen:
            seen.add(id(e))
            e.__traceback__ = None
            e = e.__cause__ or e.__context__
        return None, cause


def _threads_now(before: set) -> list:
    """Python threads started since ``before`` that are still running, not the harness's."""
    return [t for t in threading.enumerate()
            if t not in before and t not in harness_threads and t.is_alive()]


def _os_threads() -> int | None:
    try:
        import psutil
        return psutil.Process().num_threads()
    except Exception:  # noqa: BLE001 - psutil missing or the platform hides threads
        return None


class _ThreadWatch:
    """Notices a server that uses more than the one thread it was called in.

    Python threads are listed by ``threading``; threads started another way
    (``_thread``) are counted from the operating system's view of the process.
    The harness itself adds exactly one thread (the learner's call).
    """

    def __init__(self) -> None:
        self.before = set(threading.enumerate())
        self.os_before = _os_threads()
        self.seen: list = []
        self.os_extra = 0

    def sample(self) -> None:
        self.seen = self.seen or _threads_now(self.before)
        now = _os_threads()
        if now is not None and self.os_before is not None:
            self.os_extra = max(self.os_extra, now - self.os_before - 1)

    def verdict(self, what: str, clients: int, transcript: Transcript) -> None:
        if self.seen or self.os_extra >= max(2, clients - 1):
            count = len(self.seen) or self.os_extra
            raise _fail(f"{what} served its clients from {count} extra thread(s); this exercise "
                        f"asks for one thread that serves every client.",
                        expected="one thread: the one that called the function",
                        got=f"{count} more thread(s) running while the clients were served",
                        hint="register the listening socket and every connection with one "
                             "selectors.DefaultSelector and loop on sel.select(); no threading",
                        transcript=transcript)


# -- exercise 1: a non-blocking flush that keeps the remainder ---------------------------------

def _read_claimed(sock, want: int, transcript: Transcript, side: str) -> bytes:
    """Read up to ``want`` bytes that should already be in flight; stop when none come for a moment."""
    out = bytearray()
    while len(out) < want:
        r, _, _ = select.select([sock], [], [], scaled(0.2))
        if not r:
            break
        try:
            chunk = sock.recv(min(want - len(out), 1 << 20))
        except (BlockingIOError, InterruptedError):
            continue
        if not chunk:
            break
        transcript.received(side, chunk)
        out += chunk
    return bytes(out)


def _drain_now(sock, transcript: Transcript, side: str) -> bytes:
    out = bytearray()
    while True:
        try:
            chunk = sock.recv(1 << 20)
        except (BlockingIOError, InterruptedError):
            break
        if not chunk:
            break
        transcript.received(side, chunk)
        out += chunk
    return bytes(out)


def _flush_case(flush, data: bytes, deadline, room: bool) -> None:
    what = "flush(sock, outbox)"
    transcript = Transcript()
    a, b = socket.socketpair()
    a = shape(a, short_sends=True, short_recvs=False)  # every send() takes at most half
    a.setblocking(False)
    b.setblocking(False)
    limit = Deadline(2 * _seconds(deadline))
    try:
        outbox = bytearray(data)
        received = bytearray()
        calls = 0
        while True:
            calls += 1
            result = _call(flush, a, outbox, what=f"{what} (call {calls})", deadline=deadline,
                           transcript=transcript,
                           expected="to send what the socket takes now and return at once",
                           hint=f"{_NOT_NOW}; a loop that retries until everything is sent "
                                f"waits for the other side, which is what non-blocking avoids")
            claimed = len(data) - len(outbox)
            fresh = _read_claimed(b, claimed - len(received), transcript, "reader")
            received += fresh
            extra = _drain_now(b, transcript, "reader")
            if bytes(received) != data[:len(received)]:
                raise _fail(f"{what} sent bytes out of order (or twice): after call {calls} the "
                            f"other side had received {len(received)} bytes that are not the "
                            f"start of the data.", expected=_show(data[:len(received)]),
                            got=_show(bytes(received)),
                            hint="send from the front of the outbox, then delete exactly the "
                                 "bytes send() took: n = sock.send(outbox); del outbox[:n]",
                            transcript=transcript)
            if len(received) < claimed:
                raise _fail(f"{what} removed {claimed} bytes from the outbox, but only "
                            f"{len(received)} reached the other side: the rest is lost.",
                            expected=f"outbox to keep the {len(data) - len(received)} bytes "
                                     f"send() did not take",
                            got=f"outbox left with {len(outbox)} bytes",
                            hint="send() returns how many bytes it took, often fewer than you "
                                 "gave it; delete only those: del outbox[:n]",
                            transcript=transcript)
            if extra:
                raise _fail(f"{what} sent {len(extra)} more bytes than it removed from the "
                            f"outbox: the same bytes would be sent again by the next call.",
                            expected=f"{claimed} bytes sent (what left the outbox)",
                            got=f"{claimed + len(extra)} bytes arrived",
                            hint="after each send(), delete the n bytes it took from the outbox",
                            transcript=transcript)
            if outbox != data[claimed:]:  # pragma: no cover - implied by the checks above
                raise _fail(f"{what} left the wrong bytes in the outbox.", transcript=transcript)
            if not isinstance(result, bool):
                raise _fail(f"{what} returned {result!r}.",
                            expected="True if the outbox is now empty, else False",
                            got=_show(result), transcript=transcript)
            if result != (not outbox):
                raise _fail(f"{what} returned {result} with {len(outbox)} bytes still in the "
                            f"outbox.", expected=not outbox,
                            hint="return True exactly when the outbox is empty",
                            transcript=transcript)
            if result:
                return
            if room:
                raise _fail(f"{what} returned False with {len(outbox)} of {len(data)} bytes "
                            f"unsent, though the socket had room for all of them.",
                            expected="True, with the outbox empty",
                            hint="send() may take only part of what you give it; call it again "
                                 "until the outbox is empty or it raises BlockingIOError",
                            transcript=transcript)
            if not fresh and not extra and calls > 1:
                raise _fail(f"{what} sent nothing although the socket was writable.",
                            hint="call sock.send(outbox) and catch BlockingIOError",
                            transcript=transcript)
            if limit.expired():
                raise _fail(f"{what} needed more than {calls} calls to send {len(data)} bytes.",
                            transcript=transcript)
            received += _drain_now(b, transcript, "reader")  # make room for the next call
            select.select([], [a], [], limit.remaining())  # as an event loop would wait
    finally:
        a.close()
        b.close()


def _flush_vanished(flush, deadline) -> None:
    """The other side has closed: an error other than BlockingIOError must reach the caller."""
    what = "flush(sock, outbox)"
    a, b = socket.socketpair()
    b.close()
    a.setblocking(False)
    try:
        result, exc = _attempt(flush, a, bytearray(b"anyone there?"), what=what, deadline=deadline)
    finally:
        a.close()
    if exc is None:
        raise _fail(f"the other side had closed the connection, but {what} returned {result!r}.",
                    expected="the error to propagate (BrokenPipeError or ConnectionResetError)",
                    hint="catch only BlockingIOError ('not now'); any other OSError means the "
                         "connection is dead, and the caller must hear of it to close it")
    if isinstance(exc, BlockingIOError) or not isinstance(exc, OSError):
        raise _fail(f"the other side had closed the connection and {what} raised "
                    f"{type(exc).__name__}: {exc}.",
                    expected="BrokenPipeError or ConnectionResetError from send()")


def check_flush(flush, *, edge_cases: bool = True, deadline: float | None = None) -> None:
    """``flush(sock, outbox) -> bool``: send from a bytearray on a non-blocking socket.

    It sends as much of ``outbox`` as the socket takes now, deletes what was
    sent from the front of ``outbox``, and returns True when it is empty,
    False when the socket would block.  Every ``send`` takes at most half of
    what it is given.  Basic: a short message (room for all of it).  Edge
    cases: an empty outbox, 1 MiB against a reader that reads only between
    calls (so most calls end with BlockingIOError), a peer that has closed
    (the error must propagate).
    """
    _flush_case(flush, b"hello, non-blocking world", deadline, room=True)
    if not edge_cases:
        return
    _flush_case(flush, b"", deadline, room=True)
    _flush_case(flush, _BIG, deadline, room=False)
    if skip_unless(broken_pipe_is_deterministic(),
                   "a closed peer is not reported at once on this platform's socketpair"):
        _flush_vanished(flush, deadline)


# -- exercise 2: non-blocking connect with a deadline ---------------------------------------------

@contextlib.contextmanager
def unanswered_address():
    """Yield a loopback address where a TCP connect stays pending, or None where that cannot be made.

    Why: the only way to test a connect timeout without the network is a
    listener whose accept queue is full: Linux (and BSDs) then drop new SYNs,
    so the connect neither succeeds nor fails.  Windows refuses instead; the
    probe finds out by trying (50 ms per attempt).
    """
    listener = socket.socket()
    fillers = []
    try:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        address = listener.getsockname()
        found = None
        for _ in range(4):
            s = socket.socket()
            fillers.append(s)
            s.setblocking(False)
            s.connect_ex(address)
            _, w, x = select.select([], [s], [s], scaled(0.05))
            if not w and not x:
                found = address
                break
        yield found
    finally:
        for s in fillers:
            s.close()
        listener.close()


def _is_timeout(exc) -> bool:
    return isinstance(exc, (TimeoutError, socket.timeout)) or (
        isinstance(exc, OSError) and exc.errno == errno.ETIMEDOUT)


def _connect_explained(exc: AssertionError, what: str):
    cause = exc.__cause__
    if isinstance(cause, OSError) and cause.errno in _IN_PROGRESS:
        return _fail(f"{what} treated {errno_name(cause.errno)} as a failure.",
                     hint="connect_ex() on a non-blocking socket returns EINPROGRESS (on "
                          "Windows WSAEWOULDBLOCK): the connection is under way. Wait until "
                          "the socket is writable (select), then read SO_ERROR: 0 means "
                          "connected")
    return None


def _judge_connected(sock, srv, what: str, call: int) -> None:
    if not isinstance(sock, socket.socket):
        raise _fail(f"{what} should return the connected socket.", got=_show(sock))
    if sock.gettimeout() != 0.0:
        raise _fail(f"{what} returned a socket in blocking mode (gettimeout() is "
                    f"{sock.gettimeout()!r}).", expected="a non-blocking socket (timeout 0.0)",
                    hint="call sock.setblocking(False) before connect_ex() and leave it so: "
                         "the caller registers it with a selector")
    try:
        peer = sock.getpeername()
    except OSError as exc:
        raise _fail(f"{what} returned a socket that is not connected ({exc}).",
                    hint="wait until it is writable, then check SO_ERROR is 0") from exc
    if peer != srv.address:
        raise _fail(f"{what} connected to {peer!r}.", expected=repr(srv.address))
    ep = Endpoint(sock, srv.transcript, "check", deadline=Deadline(scaled(1.0)))
    msg = b"ping %d" % call
    ep.sendall(msg)
    got = ep.recv_exactly(len(msg), what="the echo through the returned socket")
    if got != msg:  # pragma: no cover - the echo server is correct
        raise _fail("the echo through the returned socket was wrong.", transcript=srv.transcript)


def _no_descriptor_left(what: str):
    """assert_no_fd_leak, failing the learner's way: ``detach()`` (or a lost socket) keeps the descriptor open."""
    @contextlib.contextmanager
    def guard():
        try:
            with assert_no_fd_leak(what):
                yield
        except AssertionError as exc:
            if isinstance(exc, CheckFailure):
                raise
            raise _fail(f"{what} left a socket descriptor open.", got=str(exc).split(": ", 1)[-1],
                        hint="close the socket with sock.close() on every failure path (detach() "
                             "gives up the object but leaves the descriptor open)") from None
    return guard()


def _connect_error_paths(connect_nonblocking, t: float, deadline, what: str) -> None:
    """An error connect_ex() returns at once, and an interrupt while waiting: raised, socket closed.

    Why: loopback connects either succeed or are refused after the wait; an
    immediate error (no route to that network) and Ctrl-C during the wait
    never happen there, and they are the paths where the check of
    connect_ex()'s result and the close are forgotten.
    """
    code = errno.ENETUNREACH
    cases = [("connect_ex", OSError(code, os.strerror(code)), f"connect_ex() gives {errno_name(code)}",
              f"connect_ex() returned {errno_name(code)} at once (no route to that network)",
              f"that error ({errno_name(code)}) as an OSError",
              ("check what connect_ex() returns: 0 or EINPROGRESS/EWOULDBLOCK mean go on, anything "
              "else is the error: close the socket and raise OSError(err, os.strerror(err))")),
             ("getsockopt", KeyboardInterrupt(), "interrupted",
              "a KeyboardInterrupt (Ctrl-C) arrived while it was finishing the connect",
              "the KeyboardInterrupt, with the socket closed",
              ("KeyboardInterrupt is not an Exception: close the socket in `except BaseException:` "
              "(then raise) or in a finally block, so every failure closes it"))]
    with peers.echo_server(timeout=_patience(deadline)) as srv:
        for method, error, label, happened, expected, hint in cases:
            where = f"{what} ({label})"
            # no real connection is made when connect_ex fails: every new descriptor is the learner's
            immediate = method == "connect_ex"
            with (peers.refused_address() if immediate else contextlib.nullcontext(srv.address)) as address, \
                    (_no_descriptor_left(where) if immediate else contextlib.nullcontext()), \
                    record_unclosed() as unclosed, faults.inject(method, error) as seen:
                sock, exc = _attempt(connect_nonblocking, address, t, what=what, deadline=deadline)
                shown = _show(sock)
                if isinstance(sock, socket.socket):
                    sock.close()
            if not seen.raised:
                continue  # it never got that far (another check reports why)
            if exc is None or not (exc is error or (isinstance(exc, OSError)
                                                    and getattr(exc, "errno", None) == code
                                                    and method == "connect_ex")):
                raise _fail(f"{happened}, and {what} "
                            + (f"returned {shown}." if exc is None else
                               f"raised {type(exc).__name__}: {exc}."),
                            expected=expected, hint=hint)
            if unclosed.sockets():
                raise _fail(f"{happened}, and {what} left the socket for the garbage collector to "
                            f"close: {unclosed.sockets()[0]}.", expected=expected, hint=hint)


def check_connect_nonblocking(connect_nonblocking, *, edge_cases: bool = True,
                              deadline: float | None = None, timeout: float | None = None) -> None:
    """``connect_nonblocking(address, timeout) -> socket``: connect without blocking, with a deadline.

    Must return a connected, still non-blocking socket; raise the connect's
    own error (ConnectionRefusedError) when it fails, TimeoutError when it is
    not done within ``timeout``; and close the socket on every failure.
    Basic: a listening echo server.  Edge cases: a second call, a refused
    port (catches "writable means connected" without SO_ERROR), and a
    connect that is never answered, where the platform can make one.
    """
    t = scaled(0.2) if timeout is None else timeout
    what = f"connect_nonblocking(address, {t:g})"
    expected = "a connected socket, still non-blocking"
    hint = ("setblocking(False); err = connect_ex(address); wait with "
            "select.select([], [sock], [sock], timeout); then SO_ERROR")
    with peers.echo_server(timeout=_patience(deadline)) as srv:
        for call in range(1, 3 if edge_cases else 2):
            with record_unclosed() as unclosed:
                try:
                    sock = _call(connect_nonblocking, srv.address, t, what=what, deadline=deadline,
                                 peer=srv, expected=expected, hint=hint)
                except AssertionError as exc:
                    better = _connect_explained(exc, what)
                    if better is not None:
                        raise better from exc.__cause__
                    raise
                try:
                    _judge_connected(sock, srv, what if call == 1 else f"{what}, called again",
                                     call)
                finally:
                    if isinstance(sock, socket.socket):
                        sock.close()
            _closes_its_socket(unclosed, what, srv.transcript)
    if not edge_cases:
        return
    # Windows retries a refused connect for about 2 s before reporting it.
    t_refused = max(t, scaled(3.0)) if sys.platform == "win32" else t
    with peers.refused_address() as address, record_unclosed() as unclosed:
        sock, exc = _attempt(connect_nonblocking, address, t_refused, what=what,
                             deadline=max(_seconds(deadline), 2 * t_refused + scaled(0.5)))
    if exc is None:
        if isinstance(sock, socket.socket):
            sock.close()
        raise _fail(f"nothing listens at {address!r}, but {what} returned {_show(sock)}.",
                    expected="ConnectionRefusedError (an OSError with errno ECONNREFUSED)",
                    hint="writable means the attempt has finished, not that it succeeded: read "
                         "err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) and, if it "
                         "is not 0, close the socket and raise OSError(err, os.strerror(err))")
    if not (isinstance(exc, OSError) and exc.errno in REFUSED_ERRNOS):
        raise _fail(f"nothing listens at {address!r}, and {what} raised "
                    f"{type(exc).__name__}: {exc}.",
                    expected="ConnectionRefusedError (an OSError with errno ECONNREFUSED)",
                    hint="on Windows a failed connect shows up in select()'s third list: pass "
                         "the socket as both writable and exceptional, then read SO_ERROR"
                    if _is_timeout(exc) else "raise OSError(err, os.strerror(err)) with the "
                                             "error number from SO_ERROR")
    _closes_its_socket(unclosed, f"{what} (refused)")
    with unanswered_address() as address:
        if not skip_unless(address is not None,
                           "this platform answers a full backlog, so a pending connect cannot "
                           "be made on loopback"):
            _connect_error_paths(connect_nonblocking, t, deadline, what)
            return
        with record_unclosed() as unclosed:
            start = time.monotonic()
            sock, exc = _attempt(connect_nonblocking, address, t, what=what,
                                 deadline=3 * t + scaled(0.5),
                                 expected=f"TimeoutError after about {t:g} s (the server never "
                                          f"answers the connect)",
                                 hint="select.select([], [sock], [sock], timeout) returns "
                                      "three empty lists when the time is up: then close the "
                                      "socket and raise TimeoutError")
            elapsed = time.monotonic() - start
        if exc is None:
            if isinstance(sock, socket.socket):
                sock.close()
            raise _fail(f"the server never answered, but {what} returned {_show(sock)}.",
                        expected="TimeoutError",
                        hint="an empty result from select() means the time is up: raise "
                             "TimeoutError")
        if not _is_timeout(exc):
            raise _fail(f"the server never answered, and {what} raised "
                        f"{type(exc).__name__}: {exc}.", expected="TimeoutError")
        if not t / 2 <= elapsed <= 3 * t + scaled(0.3):
            raise _fail(f"{what} raised TimeoutError after {elapsed:.2f} s.",
                        expected=f"about {t:g} s")
        _closes_its_socket(unclosed, f"{what} (timed out)")
    _connect_error_paths(connect_nonblocking, t, deadline, what)


# -- exercises 3 and 4: servers for many clients in one thread -----------------------------------

class _MortalSocket(HarnessSocket):
    """A server-side connection the harness can declare gone (``dying = True``).

    From then on every ``send``/``sendall`` raises BrokenPipeError, and every
    ``recv`` raises ConnectionResetError once it has handed over the bytes
    already sent: the connection keeps failing, as it does on Windows after a
    reset (Linux reports a reset once, then end of stream).  Why: a loop that
    treats such an error as "not now", or forgets to close the connection,
    then spins instead of closing it, whatever the platform.
    """

    dying = False
    _read_while_dying = False
    failures = 0  # errors raised since it was declared gone

    def _gone(self, code: int) -> OSError:
        self.failures += 1
        cls = BrokenPipeError if code == errno.EPIPE else ConnectionResetError
        return cls(code, os.strerror(code))

    def send(self, data, flags=0):
        if self.dying:
            raise self._gone(errno.EPIPE)
        return super().send(data, flags)

    def sendall(self, data, flags=0):
        if self.dying:
            raise self._gone(errno.EPIPE)
        started = getattr(self, "send_started", None)
        if started is not None:
            started.set()  # the harness waits for this: the server is now sending here
        return super().sendall(data, flags)

    def recv(self, bufsize, flags=0):
        if self.dying and self._read_while_dying:
            raise self._gone(errno.ECONNRESET)
        data = super().recv(bufsize, flags)
        self._read_while_dying = self.dying and bool(data)
        return data

    def recv_into(self, buffer, nbytes=0, flags=0):
        if self.dying and self._read_while_dying:
            raise self._gone(errno.ECONNRESET)
        n = super().recv_into(buffer, nbytes, flags)
        self._read_while_dying = self.dying and n > 0
        return n


class _TightListener(HarnessSocket):
    """A harness listener whose connections have small send buffers (16 KiB).

    Why: Linux grows a loopback socket's send buffer to megabytes, so a
    server that calls a blocking ``sendall`` towards a client that does not
    read would block only after megabytes; a fixed small buffer makes it
    block after a few kilobytes, deterministically.
    """

    blocking_accepts = 0

    def accept(self):
        if self.gettimeout() != 0.0:
            self.blocking_accepts += 1
        conn, addr = super().accept()
        conn.__class__ = _MortalSocket  # same layout; the harness may declare it gone later
        with contextlib.suppress(OSError):
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 16384)
        return conn, addr


def _tight_listener(short_sends: bool) -> _TightListener:
    sock = _TightListener(socket.AF_INET, socket.SOCK_STREAM, short_sends=short_sends)
    try:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
    except BaseException:
        hard_close(sock)
        raise
    return sock


class _Client:
    """One reference client of a pumped conversation: what it sends, what it has got back."""

    def __init__(self, ep: Endpoint, out: bytes, reading: bool = True, conn=None) -> None:
        self.ep, self.out, self.off, self.got = ep, memoryview(out), 0, bytearray()
        self.reading, self.broken = reading, False
        self.conn = conn  # the server's side of this connection (a HarnessSocket), if known

    @property
    def done(self) -> bool:
        return len(self.got) >= len(self.out)


def _match_connections(clients, listener) -> None:
    """Pair each client with the server's side of its connection (clients connect in order)."""
    for c, conn in zip(clients, listener.accepted, strict=False):  # a client may not have been accepted
        if c is not None:
            c.conn = conn


def _pump(clients, until, dl: Deadline) -> bool:
    """Send and receive for every client at once (one select loop) until ``until()`` or the deadline."""
    while not until() and not dl.expired():
        rl = [c.ep.sock for c in clients if c.reading and not c.ep.eof and not c.done]
        wl = [c.ep.sock for c in clients if c.off < len(c.out) and not c.broken]
        if not rl and not wl:
            break
        r, w, _ = select.select(rl, wl, [], dl.remaining())
        for c in clients:
            ep = c.ep
            if ep.sock in w:
                try:
                    n = ep._io(ep.sock.send, c.out[c.off:c.off + 65536])
                except OSError:
                    c.broken = True
                    n = None
                if n:
                    ep.transcript.sent(ep.side, c.out[c.off:c.off + n])
                    c.off += n
            if ep.sock in r:
                try:
                    chunk = ep._io(ep.sock.recv, 65536)
                except OSError:
                    chunk = b""
                if chunk is None:
                    continue
                ep.transcript.received(ep.side, chunk)
                if not chunk:
                    ep.eof = True
                c.got += chunk
    return until()


def _server_explained(cause: BaseException, what: str):
    """A clearer message for the exceptions multiplexing servers typically raise (None: no better one)."""
    text = str(cause)
    if isinstance(cause, BlockingIOError):
        return _fail(f"{what} raised BlockingIOError: {cause}.",
                     hint=f"{_NOT_NOW}. Give each connection an outgoing buffer; send from it "
                          f"(one send(), keep the rest) when EVENT_WRITE says the socket is "
                          f"writable; never sendall() on a non-blocking socket")
    if isinstance(cause, ValueError) and "Invalid file descriptor" in text:
        return _fail(f"{what} raised ValueError: {text}.",
                     hint="it used a connection after closing it: once you have unregistered and "
                          "closed a connection, go on to the next event (continue), and skip an "
                          "event of this round whose connection has already left (select() "
                          "listed it before it was closed)")
    if isinstance(cause, (KeyError, ValueError)) and "registered" in text:
        return _fail(f"{what} raised {type(cause).__name__}: {text}.",
                     hint="unregister a socket from the selector before you close it "
                          "(sel.unregister(conn); conn.close()): the next connection may get "
                          "the same file descriptor number")
    if isinstance(cause, OSError):
        return _fail(f"{what} raised {type(cause).__name__}: {cause}.",
                     hint="a client can vanish at any moment: a recv() or send() that raises "
                          "ConnectionResetError or BrokenPipeError means that client is gone; "
                          "unregister and close it and carry on serving the others")
    return None


class _SelectorWatch:
    """Watches the selectors the learner's server makes with ``selectors.DefaultSelector()``.

    Why: a selector the server forgets to close, or a closed socket it
    forgets to unregister, changes nothing a client can see on Linux (epoll
    drops closed descriptors by itself), and watching ``EVENT_WRITE`` with
    nothing to send only burns a CPU core; all three are in the task texts.
    It records: selectors made (closed or not at the end), sockets still
    registered when closed, and (with ``echo=True``) connections reported
    writable again and again while nothing was waiting to be echoed.
    """

    BUSY = 20  # consecutive select() calls that report a connection writable for nothing

    def __init__(self, echo: bool) -> None:
        self.echo, self.made, self.stale, self.busy = echo, [], 0, 0
        self._spurious: dict = {}

    @contextlib.contextmanager
    def active(self):
        import selectors
        base, watch = selectors.DefaultSelector, self

        class Watched(base):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, **kwargs)
                if faults.called_by_learner():
                    watch.made.append(self)

            def _look(self):
                mapping = self.get_map()
                if mapping is not None and any(isinstance(k.fileobj, socket.socket)
                                               and k.fileobj.fileno() == -1
                                               for k in list(mapping.values())):
                    watch.stale += 1

            def close(self):
                self._look()
                super().close()

            def select(self, timeout=None):
                self._look()
                ready = super().select(timeout)
                if watch.echo:
                    watch._note(ready, selectors.EVENT_WRITE)
                return ready

        Watched.__name__ = Watched.__qualname__ = base.__name__
        with faults._override(selectors, "DefaultSelector", Watched):
            yield self

    def _note(self, ready, write: int) -> None:
        idle = {id(k.fileobj) for k, ev in ready if ev & write and isinstance(k.fileobj, HarnessSocket)
                and k.fileobj.bytes_received <= k.fileobj.bytes_sent}
        self._spurious = {key: self._spurious.get(key, 0) + 1 for key in idle}
        self.busy = max([self.busy, *self._spurious.values()])

    def verdict(self, what: str, transcript: Transcript) -> None:
        left = [sel for sel in self.made if sel.get_map() is not None]
        for sel in left:
            sel.close()
        if left:
            raise _fail(f"{what} returned without closing its selector.",
                        expected="the selector closed before the function returns",
                        hint="sel.close() in a finally block, or `with selectors.DefaultSelector() "
                             "as sel:`", transcript=transcript)
        if self.stale:
            raise _fail(f"{what} closed a socket that was still registered with its selector "
                        f"(and then used the selector {self.stale} time(s) with it registered).",
                        expected="sel.unregister(conn) before conn.close()",
                        hint="unregister first, then close: the selector keeps its entry (and with "
                             "select() or poll() reports the dead descriptor) until you do",
                        transcript=transcript)
        if self.busy >= self.BUSY:
            raise _fail(f"{what} had its selector report a connection writable {self.busy} times in "
                        f"a row while it had nothing to send: a busy-wait.",
                        expected="EVENT_WRITE watched only while that connection's outgoing "
                                 "buffer has bytes",
                        hint="after each step compute the events: EVENT_WRITE if buffer else 0, "
                             "plus EVENT_READ if the buffer is below the limit, and "
                             "sel.modify(conn, events, buffer) when they change",
                        transcript=transcript)


def _serve_explained(server_fn, script, n, what, deadline, listener, watch, selectors_watch=None):
    selectors_watch = _SelectorWatch(echo=False) if selectors_watch is None else selectors_watch
    try:
        with selectors_watch.active():
            run = _serve(server_fn, script, n, what=what, deadline=deadline, listener=listener,
                         expected=f"to serve {n} clients from one thread, and return when all "
                                  f"have closed")
    except LearnerTimeout as exc:
        failing = [c for c in listener.accepted if getattr(c, "failures", 0) >= 3]
        if failing:
            raise _fail(f"{what} did not return: after a client vanished it called recv()/send() "
                        f"on that connection {failing[0].failures} times, and each failed "
                        f"(BrokenPipeError or ConnectionResetError).",
                        expected="the connection unregistered and closed at the first such error",
                        hint="only BlockingIOError means 'not now'; any other OSError means the "
                             "client is gone: unregister and close its connection",
                        transcript=getattr(exc, "transcript", None)) from None
        raise
    except AssertionError as exc:
        # Explain the learner's own exception, if it had one first (the clients' trouble
        # afterwards is only its consequence).
        err = listener.learner_error
        if err is not None and (exc.__cause__ is err or listener.finished_before(exc)):
            better = _server_explained(err, what)
            if better is not None:
                raise better from err
        raise
    watch.verdict(what, n, run.transcript)
    if run.accepted > n:
        raise _fail(f"{what} accepted {run.accepted} connections: a client that came after the "
                    f"{n} it was asked to serve was accepted too.", expected=f"{n} connections",
                    hint="once n clients have been accepted, stop watching the listening socket "
                         "(sel.unregister(listener)); later clients wait in the backlog",
                    transcript=run.transcript)
    _check_closed_all(run, what, run.transcript)
    if run.accepted != n:
        raise _fail(f"{what} accepted {run.accepted} connections.", expected=n,
                    transcript=run.transcript)
    selectors_watch.verdict(what, run.transcript)
    if getattr(listener, "blocking_accepts", 0) and selectors_watch.echo:
        raise _fail(f"{what} called accept() on the listening socket in blocking mode.",
                    expected="listener.setblocking(False) before the loop",
                    hint="a client may go away between select() and accept(); on a blocking "
                         "listener accept() then waits for the next client and stalls every "
                         "other connection", transcript=run.transcript)
    return run


def _finish_clients(eps, transcript: Transcript) -> None:
    """Half-close every client; each must then see the server close without sending more."""
    for ep in eps:
        if not ep.closed:
            with contextlib.suppress(OSError):
                ep.shutdown_wr()
    for ep in eps:
        if ep.closed:
            continue
        try:
            tail = ep.recv_until_eof(what="the server to close this connection")
        except ConnectionError:
            tail = b""
        if tail:
            raise _fail(f"after {ep.side} had finished, the server sent it more bytes.",
                        got=_show(tail), transcript=transcript)


def _echo_failures(clients, transcript: Transcript, stalled_by: str | None = None):
    late = [c for c in clients if not c.done]
    for c in late:
        if c.conn is not None and c.conn.bytes_received >= len(c.out) > c.conn.bytes_sent:
            raise _fail(f"the server read all {len(c.out)} bytes {c.ep.side} sent, but echoed "
                        f"only {c.conn.bytes_sent} of them and sent no more.",
                        expected=_show(bytes(c.out)), got=_show(bytes(c.got)),
                        hint="send() on a non-blocking socket may take only part of the data: "
                             "keep the rest in that connection's outgoing buffer and send it "
                             "when EVENT_WRITE says the socket is writable",
                        transcript=transcript)
    for c in clients:
        if c.got and bytes(c.got) != bytes(c.out[:len(c.got)]):
            raise _fail(f"{c.ep.side} got a wrong echo.", expected=_show(bytes(c.out)),
                        got=_show(bytes(c.got)), hint="echo exactly the bytes each client sent "
                                                      "to that client, in order",
                        transcript=transcript)
    if not late:
        return
    names = ", ".join(c.ep.side for c in late)
    if stalled_by:
        raise _fail(f"while {stalled_by} uploaded 1 MiB without reading its echo, {names} "
                    f"did not get their echo: the server was stuck on {stalled_by}.",
                    expected="every other client served while one client is slow",
                    got="; ".join(f"{c.ep.side}: {len(c.got)} of {len(c.out)} bytes"
                                  for c in late),
                    hint="set every connection non-blocking and keep an outgoing buffer per "
                         "connection; send from it when EVENT_WRITE fires (modify the "
                         "registration), and stop reading (EVENT_WRITE only) from a client "
                         "whose buffer is full",
                    transcript=transcript)
    raise _fail(f"{names} did not get their echo while all clients were connected at once.",
                got="; ".join(f"{c.ep.side}: {len(c.got)} of {len(c.out)} bytes" for c in late),
                hint="register every connection with the selector and echo whatever each one "
                     "sends, whichever is ready first",
                transcript=transcript)


def _hang_up_early(ep: Endpoint, transcript: Transcript, dl: Deadline) -> None:
    """The client uploads 128 KiB, shuts down its sending side at once and only then reads.

    The server reads the end of stream while its outgoing buffer still holds
    most of the echo (every send takes at most half, and little fits in the
    buffers): it may drop that rest and close, or send it first; the client
    must receive a prefix of its upload, then the end.
    """
    upload = _BIG[:128 * 1024]
    c = _Client(ep, upload, reading=False)
    _pump([c], lambda: c.off >= len(upload), dl)
    ep.shutdown_wr()
    try:
        got = ep.recv_until_eof(what="the rest of its echo, then the server to close")
    except ConnectionError:
        got = b""
    ep.close()
    if not upload.startswith(got):
        raise _fail(f"{ep.side} sent 128 KiB and closed its sending side at once; what came back "
                    f"is not its data.", expected=f"a prefix of {_show(upload)}", got=_show(got),
                    hint="when recv() returns b'' unregister and close that connection, and do "
                         "nothing more with it in this round (continue)",
                    transcript=transcript)


def check_serve_many(serve_many, n: int = 5, *, edge_cases: bool = True,
                     deadline: float | None = None) -> None:
    """``serve_many(listener, n)``: an echo server for n clients in one thread, with selectors.

    It returns when n clients have come and gone, having closed (and
    unregistered) every connection.  Basic: n clients connected at once,
    then three clients one after another (a closed connection's descriptor
    number is reused).  Edge cases (n=4): one client uploads 1 MiB and does
    not read its echo until the others are served, one sends part of a
    message and resets, two ordinary clients; every send of the server's
    takes at most half.  In every run the server must use one thread.
    """
    what = f"serve_many(listener, {n})"

    def concurrent(address, transcript, dl):
        eps = []
        try:
            for i in range(n):
                eps.append(connect(address, transcript, f"client {i + 1}", deadline=dl))
            clients = [_Client(ep, b"client %d says hi" % (i + 1)) for i, ep in enumerate(eps)]
            _pump(clients, lambda: all(c.done for c in clients), dl)
            _match_connections(clients, listener)
            watch.sample()
            _echo_failures(clients, transcript)
            _finish_clients(eps, transcript)
        finally:
            for ep in eps:
                ep.close()

    watch = _ThreadWatch()
    listener = _tight_listener(False)
    _serve_explained(serve_many, concurrent, n, what, deadline, listener, watch, _SelectorWatch(True))

    def one_by_one(address, transcript, dl):
        for i in range(3):
            with connect(address, transcript, f"client {i + 1}", deadline=dl) as ep:
                msg = b"one after another %d" % (i + 1)
                got = ep.exchange(msg, len(msg), shutdown=True)
                watch.sample()
                if got != msg:
                    raise _fail(f"client {i + 1} of 3 (one after another) got a wrong echo.",
                                expected=_show(msg), got=_show(got), transcript=transcript)
                ep.recv_until_eof(what="the server to close this connection")

    watch = _ThreadWatch()
    _serve_explained(serve_many, one_by_one, 3, "serve_many(listener, 3)", deadline,
                     _tight_listener(False), watch, _SelectorWatch(True))
    if not edge_cases:
        return

    def awkward(address, transcript, dl):
        eps = []
        try:
            hog = connect(address, transcript, "client 1", deadline=dl, rcvbuf=4096)
            eps.append(hog)
            with connect(address, transcript, "client 2", deadline=dl) as gone:
                # Its first echo proves the server accepted it (some systems drop a connection
                # reset while still in the backlog); then it vanishes in the middle of a message.
                first = _Client(gone, b"first part, ", conn=None)
                _pump([first], lambda: first.done, dl)
                _match_connections([None, first], listener)
                _echo_failures([first], transcript)
                # It vanishes in the middle of a message: the server can still read what it
                # sent, but every send to it fails, and so does every recv after that.
                first.conn.dying = True
                gone.sendall(b"and then half a mess")
                gone.reset()
            eps += [connect(address, transcript, f"client {i}", deadline=dl) for i in (3, 4)]
            # One client too many: it must wait in the backlog (the server serves 4).
            extra.append(connect(address, transcript, "client 5 (one too many)", deadline=dl))
            hogc = _Client(hog, _BIG, reading=False)
            others = [_Client(eps[1], (UTF8_TEXT + " #3").encode()),
                      _Client(eps[2], _BIG[:64 * 1024])]
            _pump([hogc] + others, lambda: all(c.done for c in others), dl)
            _match_connections([hogc, None] + others, listener)
            watch.sample()
            _echo_failures(others, transcript, stalled_by="client 1")
            _hang_up_early(eps[2], transcript, dl)
            hogc.reading = True
            _pump([hogc] + others, lambda: hogc.done, dl)
            if not hogc.done or bytes(hogc.got) != _BIG:
                got = bytes(hogc.got)
                raise _fail(f"client 1 got {len(got)} of the {len(_BIG)} bytes of its echo"
                            + (" (wrong bytes)." if got != _BIG[:len(got)] else "."),
                            expected=_show(_BIG), got=_show(got),
                            hint="send() may take only part of the buffer: remove only the n "
                                 "bytes it took (del buf[:n]) and send the rest when the socket "
                                 "is writable again", transcript=transcript)
            _finish_clients(eps, transcript)
        finally:
            for ep in eps + extra:
                ep.close()

    extra: list = []
    watch = _ThreadWatch()
    listener = _tight_listener(True)
    _serve_explained(serve_many, awkward, 4, "serve_many(listener, 4)", deadline, listener, watch,
                     _SelectorWatch(True))


def _relay_expect(ep: Endpoint, line: bytes, sender: str, transcript: Transcript,
                  fragment: bytes = b"", how: str = "") -> None:
    try:
        got = ep.recv_exactly(len(line), what=f"{sender}'s line relayed")
    except EOFError as exc:
        raise _fail(f"{ep.side} should have received {sender}'s line, but the relay closed the "
                    f"connection ({exc}).", expected=_show(line),
                    hint="close a client's connection only when that client has closed "
                         "(recv() returned b'') or failed", transcript=transcript) from exc
    except WaitTimeout as exc:
        raise _fail(f"{ep.side} never received {sender}'s line{how}.", expected=_show(line),
                    hint="when a client's buffer holds a complete line (ending in b'\\n'), "
                         "send it to every other client", transcript=transcript) from exc
    if got == line:
        return
    hint = "relay each complete line unchanged, to every client except the one that sent it"
    if fragment and fragment[:4] in got:
        hint = ("a client closed in the middle of a line and part of that unfinished line was "
                "relayed: keep each client's bytes in its own buffer and relay only complete "
                "lines (up to b'\\n'); drop the unfinished rest when the client goes")
    elif b"\n" in got[:-1] or not got.endswith(b"\n"):
        hint = ("lines were cut or glued: one recv() is not one line. Append what you receive "
                "to that client's buffer and relay each complete line (split on b'\\n'), "
                "keeping an unfinished tail for the next recv()")
    raise _fail(f"{ep.side} should have received {sender}'s line{how}.", expected=_show(line),
                got=_show(got), hint=hint, transcript=transcript)


def check_relay(relay, n: int = 3, *, edge_cases: bool = True, deadline: float | None = None) -> None:
    """``relay(listener, n)``: a line-based chat relay for n clients in one thread.

    It accepts n clients first; then every complete line (ending in
    ``b'\\n'``) a client sends goes, unchanged, to every *other* client still
    connected; it returns when all n have closed.  Basic: three clients take
    turns.  Edge cases (4 clients): two lines in one send, a line dribbled a
    byte at a time, a client that resets, a UTF-8 line, and a client that
    closes in the middle of a line (its fragment must not be relayed).
    """
    def take_turns(address, transcript, dl):
        eps = []
        try:
            eps = [connect(address, transcript, f"client {i + 1}", deadline=dl) for i in range(3)]
            for i, ep in enumerate(eps):
                line = b"hello from client %d\n" % (i + 1)
                ep.sendall(line)
                for other in eps:
                    if other is not ep:
                        _relay_expect(other, line, ep.side, transcript)
            watch.sample()
            _finish_clients(eps, transcript)
        finally:
            for ep in eps:
                ep.close()

    def awkward(address, transcript, dl):
        eps = []
        try:
            eps = [connect(address, transcript, f"client {i + 1}", deadline=dl) for i in range(4)]
            c1, c2, c3, c4 = eps
            steps = [(c1, b"two lines\nin one send\n", None), (c3, b"\n", None), (c2, b"dribbled\n", 1),
                     (c4, None, None),
                     (c3, ("after a reset: " + UTF8_TEXT + "\n").encode(), None)]
            alive = list(eps)
            for sender, line, chunk in steps:
                if line is None:
                    sender.reset()
                    alive.remove(sender)
                    continue
                sender.sendall(line, chunk=chunk, pause=scaled(0.001) if chunk else 0.0)
                how = (" (sent one byte at a time)" if chunk else
                       " (an empty line: just b'\\n', which find() finds at index 0)" if line == b"\n" else
                       " (two lines in one send)" if line.count(b"\n") > 1 else "")
                for other in alive:
                    if other is not sender:
                        _relay_expect(other, line, sender.side, transcript, how=how)
            fragment = b"half a li"
            c1.sendall(fragment)
            c1.close()
            c2.sendall(b"last\n")
            _relay_expect(c3, b"last\n", c2.side, transcript, fragment)
            watch.sample()
            for ep in (c2, c3):
                ep.shutdown_wr()
            for ep in (c2, c3):
                try:
                    tail = ep.recv_until_eof(what="the relay to close this connection")
                except ConnectionError:
                    tail = b""
                if tail:
                    raise _fail(f"{ep.side} received bytes nobody sent as a line.",
                                got=_show(tail),
                                hint="client 1 closed in the middle of a line: relay only "
                                     "complete lines (ending in b'\\n'); drop the unfinished "
                                     "rest when a client goes"
                                if tail.startswith(fragment[:4]) else None,
                                transcript=transcript)
        finally:
            for ep in eps:
                ep.close()

    def reset_while_busy(address, transcript, dl):
        # Client 2 resets while the relay is busy sending client 1's long line to client 3 (who
        # does not read yet), just after client 4 sent a line: the relay then sees client 4's
        # line and client 2's reset in one round, and client 2 leaves while it relays that line.
        eps = []
        try:
            for i, rcvbuf in enumerate((None, 1 << 20, 4096, 1 << 20)):
                eps.append(connect(address, transcript, f"client {i + 1}", deadline=dl, rcvbuf=rcvbuf))
            c1, c2, c3, c4 = eps
            c1.sendall(b"all here?\n")
            for ep in (c2, c3, c4):
                _relay_expect(ep, b"all here?\n", c1.side, transcript)
            conns = list(listener.accepted)
            started = conns[2].send_started = threading.Event()
            long_line = _BIG[:64 * 1024].replace(b"\n", b"-") + b"\n"
            c1.sendall(long_line)
            if not started.wait(dl.remaining()):
                raise _fail("the relay never started to send client 1's line to client 3.",
                            hint="send each complete line to every other client",
                            transcript=transcript)
            c4.sendall(b"from client 4\n")
            c2.reset()
            for ep in (c3, c4):
                _relay_expect(ep, long_line, c1.side, transcript)
            for ep in (c1, c3):
                _relay_expect(ep, b"from client 4\n", c4.side, transcript,
                              how=" (sent while client 2 reset its connection)")
            watch.sample()
            _finish_clients([c1, c3, c4], transcript)
        finally:
            for ep in eps:
                ep.close()

    watch = _ThreadWatch()
    _serve_explained(relay, take_turns, 3, "relay(listener, 3)", deadline,
                     _tight_listener(False), watch)
    if edge_cases:
        watch = _ThreadWatch()
        _serve_explained(relay, awkward, 4, "relay(listener, 4)", deadline,
                         _tight_listener(True), watch)
        watch = _ThreadWatch()
        listener = _tight_listener(False)
        _serve_explained(relay, reset_while_busy, 4, "relay(listener, 4)", deadline, listener, watch)


# -- exercise 5: a TLS client that checks who it talks to ----------------------------------------

_CAS: dict = {}


def loopback_ca(name: str = "course"):
    """A ``trustme.CA`` made on first use (one per ``name``), for loopback tests only.

    Why: TLS needs a certificate authority the client trusts; a real one
    would need the network and a real name.  trustme makes a throwaway CA and
    certificates in memory, in milliseconds.
    """
    if name not in _CAS:
        import trustme
        _CAS[name] = trustme.CA()
    return _CAS[name]


class _TlsEcho(Peer):
    """A TLS echo server on loopback; it sends each reply in ``record``-byte TLS records."""

    def __init__(self, context: ssl.SSLContext, names, record: int | None, cut: int | None = None, **kw):
        super().__init__(**kw)
        self.context, self.names, self.record, self.cut = context, names, record, cut
        self.handshakes = 0

    def _wait(self, sock, read: bool = True, write: bool = False) -> None:
        rl = [sock, self._stop] if read else [self._stop]
        r, w, _ = select.select(rl, [sock] if write else [], [], self.timeout)
        if self._stop in r:
            raise PeerStopped()
        if not r and not w:
            raise WaitTimeout(f"server waited {self.timeout:.2f} s")

    def _retry(self, tls, fn, *args):
        while True:
            try:
                return fn(*args)
            except ssl.SSLWantReadError:
                if tls.pending():  # pragma: no cover - data already decrypted
                    continue
                self._wait(tls)
            except ssl.SSLWantWriteError:  # pragma: no cover - small records on loopback
                self._wait(tls, read=False, write=True)

    def _connection(self, conn) -> None:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # no 40 ms Nagle stalls
        conn.setblocking(False)
        try:
            tls = self.context.wrap_socket(conn, server_side=True, do_handshake_on_connect=False)
        except BaseException:  # pragma: no cover - wrapping a fresh socket does not fail
            conn.close()
            raise
        with tls:
            try:
                self._retry(tls, tls.do_handshake)
            except (ssl.SSLError, OSError) as exc:
                self.transcript.note(self.side, f"TLS handshake failed: {exc}")
                return
            self.handshakes += 1
            self.transcript.note(self.side, f"TLS handshake done ({tls.version()}); it showed "
                                            f"a certificate for {', '.join(self.names)}")
            while True:
                try:
                    data = self._retry(tls, tls.recv, 65536)
                except (ssl.SSLEOFError, ConnectionError):
                    data = b""
                self.transcript.received(self.side, data)
                if not data:
                    return
                if self.cut is not None:
                    data = data[:self.cut]
                    self.cut -= len(data)
                step = self.record or len(data)
                for k in range(0, len(data), step):
                    piece = data[k:k + step]
                    sent = 0
                    while sent < len(piece):
                        sent += self._retry(tls, tls.send, piece[sent:])
                    self.transcript.sent(self.side, piece)
                if self.cut == 0:
                    self.transcript.note(self.side, "closes the connection in the middle of the echo")
                    return


@contextlib.contextmanager
def tls_server(names=("localhost",), ca=None, record: int | None = None, **kw):
    """A TLS echo server on 127.0.0.1 with a certificate for ``names`` signed by ``ca``.

    Yields the running peer; ``.cafile`` is the path of a PEM file with the
    CA the client should trust (the course CA, whatever signed the server's
    certificate), valid inside the block.  ``record`` splits each echo into
    TLS records of that many bytes; ``cut=k`` echoes only k bytes, then closes.
    """
    trusted = loopback_ca()
    ca = trusted if ca is None else ca
    cert = ca.issue_cert(*names)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    with cert.private_key_and_cert_chain_pem.tempfile() as chain:
        context.load_cert_chain(chain)
    with trusted.cert_pem.tempfile() as cafile, _TlsEcho(context, names, record, **kw) as srv:
        srv.cafile = cafile
        yield srv


@contextlib.contextmanager
def _short_tls_sends():
    """Every ``SSLSocket.send()`` the learner's code makes sends at most half of its data.

    Why: like ``socket.send``, ``SSLSocket.send`` returns how many bytes it
    took and may take fewer than it was given; CPython's happens to take
    everything on a blocking socket, so ``send`` where ``sendall`` is needed
    passes by luck.  ``sendall`` (which loops over ``send``) still sends all.
    Yields a counter of short sends made.
    """
    real = ssl.SSLSocket.send
    made = [0]

    def send(self, data, flags=0):
        if faults.called_by_learner():
            try:
                view = memoryview(data).cast("B")
            except TypeError:
                return real(self, data, flags)  # the usual "bytes-like object is required"
            if len(view) > 1:
                made[0] += 1
                return real(self, view[:len(view) // 2], flags)
        return real(self, data, flags)

    with faults._override(ssl.SSLSocket, "send", send):
        yield made


@_timeout_required("tls_echo(port, server_name, cafile, message)", "connect")
def check_tls_echo(tls_echo, *, edge_cases: bool = True, deadline: float | None = None) -> None:
    """``tls_echo(port, server_name, cafile, message) -> bytes`` over TLS on 127.0.0.1.

    The client trusts only ``cafile``, checks that the certificate is for
    ``server_name``, sends ``message`` and returns the echo (exactly
    ``len(message)`` bytes).  Basic: a certificate for 'localhost'.  Edge
    cases: a 4 KiB echo in 100-byte TLS records, a second call, a server
    whose certificate is for another name, and one signed by an unknown CA
    (ssl.SSLCertVerificationError expected in both); the socket must be
    closed in every case; every ``send`` of the 4 KiB case takes at most
    half, a server that closes after half the echo must end in EOFError
    (not a loop that never ends), and the connection must have a timeout.
    """
    what = "tls_echo(port, server_name, cafile, message)"
    cases = [("localhost", None, None, b"hello over TLS")]
    if edge_cases:
        big = (UTF8_TEXT.encode() + b" ") * 128
        cases += [("localhost", None, 100, big), ("localhost", None, None, b"second call")]
    for name, ca, record, message in cases:
        with tls_server((name,), ca, record, timeout=_patience(deadline)) as srv, \
                record_unclosed() as unclosed, \
                (_short_tls_sends() if record else contextlib.nullcontext([0])) as shorts:
            try:
                got = _call(tls_echo, srv.port, "localhost", srv.cafile, message, what=what,
                            deadline=deadline, peer=srv,
                            expected="a verified TLS connection and the echo of the message",
                            hint="ctx = ssl.create_default_context(cafile=cafile); "
                                 "ctx.wrap_socket(sock, server_hostname=server_name)")
            except AssertionError as exc:
                if shorts[0] and len(srv.received) < len(message):
                    raise _fail(f"the server received only {len(srv.received)} of the "
                                f"{len(message)} bytes of the message, so the echo never came "
                                f"complete.", expected=_show(message), got=_show(srv.received),
                                hint="SSLSocket.send() may send only part of the data (it returns "
                                     "how many bytes it took); use sendall()",
                                transcript=srv.transcript) from None
                raise (_tls_explained(exc, what, srv) or exc) from None
        if not isinstance(got, (bytes, bytearray)) or bytes(got) != message:
            short = isinstance(got, (bytes, bytearray)) and message.startswith(bytes(got))
            raise _fail(f"{what} returned the wrong echo"
                        + (f" (the first {len(got)} of {len(message)} bytes)." if short else "."),
                        expected=_show(message), got=_show(got),
                        hint="TLS is still a byte stream: the echo can arrive in several "
                             "records, and one recv() returns at most one; loop until you have "
                             "len(message) bytes" if short else None,
                        transcript=srv.transcript)
        _closes_its_socket(unclosed, what, srv.transcript)
    if not edge_cases:
        return
    _tls_cut_short(tls_echo, what, deadline)
    for names, ca, problem in ((("wrong.example",), None, "is for 'wrong.example'"),
                               (("localhost",), loopback_ca("stranger"),
                                "is signed by a CA the client does not trust")):
        with tls_server(names, ca, timeout=_patience(deadline)) as srv, \
                record_unclosed() as unclosed:
            got, exc = _attempt(tls_echo, srv.port, "localhost", srv.cafile, b"secret",
                                what=what, deadline=deadline, peer=srv)
        if exc is None:
            raise _fail(f"the server's certificate {problem}, but {what} went ahead and "
                        f"returned {_show(got)}.",
                        expected="ssl.SSLCertVerificationError (the client must refuse)",
                        hint="do not switch off verification: keep check_hostname=True and "
                             "verify_mode=CERT_REQUIRED (create_default_context sets both) "
                             "and pass server_hostname=server_name to wrap_socket",
                        transcript=srv.transcript)
        if not isinstance(exc, ssl.SSLCertVerificationError):
            raise _fail(f"the server's certificate {problem}, and {what} raised "
                        f"{type(exc).__name__}: {exc}.",
                        expected="ssl.SSLCertVerificationError, let through unchanged",
                        transcript=srv.transcript)
        if srv.received:
            raise _fail(f"the server's certificate {problem}, but the client sent it "
                        f"{_show(srv.received)}.", expected="nothing sent before verification",
                        transcript=srv.transcript)
        _closes_its_socket(unclosed, f"{what} (failed handshake)", srv.transcript)


def _tls_cut_short(tls_echo, what: str, deadline) -> None:
    """A server that closes after half the echo: the client must stop with EOFError, not spin."""
    message = b"the server will hang up halfway through this echo"
    half = len(message) // 2
    with tls_server(cut=half, timeout=_patience(deadline)) as srv, record_unclosed() as unclosed:
        got, exc = _attempt(tls_echo, srv.port, "localhost", srv.cafile, message, what=what,
                            deadline=deadline, peer=srv,
                            expected="EOFError once recv() returns b'' (the server has closed)",
                            hint="recv() returns b'' when the server has closed: stop and raise "
                                 "EOFError, or the loop asks for the rest for ever")
    if exc is None:
        raise _fail(f"the server closed after echoing {half} of {len(message)} bytes, and {what} "
                    f"returned {_show(got)}.", expected="EOFError (the echo is incomplete)",
                    hint="when recv() returns b'' before you have len(message) bytes, raise "
                         "EOFError", transcript=srv.transcript)
    if not isinstance(exc, (EOFError, ConnectionError, ssl.SSLError)):
        raise _fail(f"the server closed after echoing {half} of {len(message)} bytes, and {what} "
                    f"raised {type(exc).__name__}: {exc}.", expected="EOFError",
                    hint="when recv() returns b'' before you have len(message) bytes, raise "
                         "EOFError", transcript=srv.transcript)
    _closes_its_socket(unclosed, f"{what} (server closed early)", srv.transcript)


def _tls_explained(exc: AssertionError, what: str, srv):
    cause = exc.__cause__
    if isinstance(cause, ssl.SSLCertVerificationError):
        return _fail(f"{what} refused the course server's valid certificate: {cause}.",
                     hint="trust the CA in cafile (create_default_context(cafile=cafile)) and "
                          "verify the name the caller gave (server_hostname=server_name, not "
                          "the IP address)", transcript=srv.transcript)
    if isinstance(cause, ValueError) and "server_hostname" in str(cause):
        return _fail(f"{what} raised ValueError: {cause}.",
                     hint="pass server_hostname=server_name to wrap_socket: it is the name the "
                          "certificate must match (and is sent to the server in the handshake)",
                     transcript=srv.transcript)
    return None

