"""Checks of non-blocking sends and connects (section 07, exercises 1 and 2).

* :func:`check_flush`: a non-blocking send that must keep the remainder,
  against a peer that stops reading (the buffer fills) and one that vanished.
* :func:`check_connect_nonblocking`: EINPROGRESS, writable, SO_ERROR, against
  a server, a refused port and (where the platform allows) a connect that is
  never answered (a listener whose backlog is full).

On loopback ``send`` takes everything and a connect finishes at once; these
checks make the awkward cases happen.
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import socket
import sys
import time

from .. import faults, peers
from ..endpoint import Endpoint
from ..failures import CheckFailure, exception_name
from ..probes import REFUSED_ERRNOS, errno_name, skip_unless
from ..resources import assert_no_fd_leak, record_unclosed
from ..runners import shape
from ..timing import Deadline, scaled
from ..transcript import Transcript
from .drivers import _BIG, _attempt, _call, _patience, _seconds
from .provoke import broken_pipe_is_deterministic
from .vocabulary import _NOT_NOW, _closes_its_socket, _fail, _show

_IN_PROGRESS = {errno.EINPROGRESS, errno.EWOULDBLOCK, errno.EALREADY,
                getattr(errno, "WSAEWOULDBLOCK", errno.EWOULDBLOCK)}


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
                    f"{exception_name(exc)}: {exc}.",
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
                               f"raised {exception_name(exc)}: {exc}."),
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
        sock, error = _attempt(connect_nonblocking, address, t_refused, what=what,
                             deadline=max(_seconds(deadline), 2 * t_refused + scaled(0.5)))
    if error is None:
        if isinstance(sock, socket.socket):
            sock.close()
        raise _fail(f"nothing listens at {address!r}, but {what} returned {_show(sock)}.",
                    expected="ConnectionRefusedError (an OSError with errno ECONNREFUSED)",
                    hint="writable means the attempt has finished, not that it succeeded: read "
                         "err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) and, if it "
                         "is not 0, close the socket and raise OSError(err, os.strerror(err))")
    if not (isinstance(error, OSError) and error.errno in REFUSED_ERRNOS):
        raise _fail(f"nothing listens at {address!r}, and {what} raised "
                    f"{exception_name(error)}: {error}.",
                    expected="ConnectionRefusedError (an OSError with errno ECONNREFUSED)",
                    hint="on Windows a failed connect shows up in select()'s third list: pass "
                         "the socket as both writable and exceptional, then read SO_ERROR"
                    if _is_timeout(error) else "raise OSError(err, os.strerror(err)) with the "
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
            sock, error = _attempt(connect_nonblocking, address, t, what=what,
                                 deadline=3 * t + scaled(0.5),
                                 expected=f"TimeoutError after about {t:g} s (the server never "
                                          f"answers the connect)",
                                 hint="select.select([], [sock], [sock], timeout) returns "
                                      "three empty lists when the time is up: then close the "
                                      "socket and raise TimeoutError")
            elapsed = time.monotonic() - start
        if error is None:
            if isinstance(sock, socket.socket):
                sock.close()
            raise _fail(f"the server never answered, but {what} returned {_show(sock)}.",
                        expected="TimeoutError",
                        hint="an empty result from select() means the time is up: raise "
                             "TimeoutError")
        if not _is_timeout(error):
            raise _fail(f"the server never answered, and {what} raised "
                        f"{exception_name(error)}: {error}.", expected="TimeoutError")
        if not t / 2 <= elapsed <= 3 * t + scaled(0.3):
            raise _fail(f"{what} raised TimeoutError after {elapsed:.2f} s.",
                        expected=f"about {t:g} s")
        _closes_its_socket(unclosed, f"{what} (timed out)")
    _connect_error_paths(connect_nonblocking, t, deadline, what)
