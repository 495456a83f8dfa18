"""Reference peers: known-good (and deliberately awkward) servers and clients.

Why this module exists: a learner's client can only be judged against a
server whose behaviour is certain, including the awkward behaviours real
networks produce (bytes arriving one at a time, a peer that never answers,
one that resets, one that closes half-way).  Each peer here runs on an
ephemeral loopback port (port 0, or an AF_UNIX path in a private temp dir)
in background threads, records everything into a :class:`Transcript`, waits
only with deadlines, and is a context manager that always stops its
threads and closes its sockets, whatever happened inside the block::

    with peers.echo_server() as srv:
        learner_client(srv.port)
    # srv.received, srv.transcript, srv.errors are still readable here

The harness's socket wrapper (:class:`Endpoint`), the reference clients
(:func:`connect`, :func:`udp_client`) and :func:`refused_address` live in
:mod:`course_lib.endpoint` and are re-exported here.
"""

from __future__ import annotations

import itertools
import select
import socket
import threading
import time
from typing import Any

from .endpoint import (Bound, Endpoint, PeerStopped, WaitTimeout, Waker, bind_loopback, connect,
                       harness_threads, loopback_address, refused_address, udp_client)
from .resources import hard_close
from .timing import DEFAULT_DEADLINE, Deadline, scaled
from .transcript import Transcript

__all__ = [
    "PeerStopped",
    "WaitTimeout",
    "Endpoint",
    "connect",
    "udp_client",
    "loopback_address",
    "Peer",
    "echo_server",
    "line_server",
    "timestamp_server",
    "udp_echo_server",
    "silent_server",
    "deaf_server",
    "dribble_server",
    "reset_server",
    "close_midway_server",
    "half_close_server",
    "late_server",
    "refused_address",
    "timestamp_reply",
]

class Peer:
    """Base of the reference servers: threads, sockets and cleanup.

    Why: the mechanics every peer needs (bind on loopback port 0, accept in a
    thread, one handler thread per connection, record errors, stop and join
    everything on exit) live here once; subclasses only say what to do with
    one connection (:meth:`handle`).  After the ``with`` block the attributes
    stay readable for building failure messages.
    """

    side = "server"
    sock_type = socket.SOCK_STREAM
    _ids = itertools.count(1)

    def __init__(self, family: int = socket.AF_INET, *, timeout: float | None = None,
                 lifetime: float | None = None) -> None:
        self.family = family
        self.timeout = DEFAULT_DEADLINE if timeout is None else timeout
        self.lifetime = scaled(30.0) if lifetime is None else lifetime
        self.transcript = Transcript()
        self.errors: list = []
        self.address: Any = None
        self.listener: socket.socket | None = None
        self.connections = 0
        self.finished = 0
        self._stop = Waker()
        self._cond = threading.Condition()
        self._threads: list = []
        self._endpoints: set = set()
        self._bound: Bound | None = None
        self._stopped = False
        self._name = f"{type(self).__name__}-{next(self._ids)}"

    # -- public attributes -------------------------------------------------
    @property
    def port(self) -> int | None:
        """The port number, or None for AF_UNIX."""
        return self.address[1] if isinstance(self.address, tuple) else None

    @property
    def received(self) -> bytes:
        """Every byte this peer received, in order."""
        return self.transcript.received_by(self.side)

    @property
    def sent(self) -> bytes:
        """Every byte this peer sent, in order."""
        return self.transcript.sent_by(self.side)

    # -- lifecycle -----------------------------------------------------------
    @property
    def _listening(self) -> socket.socket:
        """The bound socket (after :meth:`start`)."""
        if self.listener is None:
            raise RuntimeError(f"{self!r} was not started")
        return self.listener

    def _bind(self) -> None:
        sock = socket.socket(self.family, self.sock_type)
        try:
            self._bound = bind_loopback(sock)
        except BaseException:
            sock.close()
            raise
        self.listener = sock
        self.address = self._bound.address

    def start(self) -> "Peer":
        """Bind, listen and start serving in a background thread."""
        self._bind()
        try:
            self._listen()
        except BaseException:  # pragma: no cover - listen on a fresh socket does not fail
            self.stop()
            raise
        self._spawn(self._serve)
        return self

    def _listen(self) -> None:
        self._listening.listen(16)

    def _spawn(self, target, *args) -> None:
        t = threading.Thread(target=self._guard, args=(target,) + args,
                             name=f"{self._name}-{target.__name__}", daemon=True)
        harness_threads.add(t)  # not the learner's: see runners.LearnerCall.orphans
        with self._cond:
            self._threads.append(t)
        t.start()

    def _guard(self, target, *args) -> None:
        try:
            target(*args)
        except PeerStopped:
            pass
        except BaseException as exc:  # recorded for the check to report
            self.errors.append(exc)
            if not isinstance(exc, (WaitTimeout, OSError, EOFError)):
                self.transcript.error(self.side, exc)

    def _serve(self) -> None:
        """Accept loop: one handler thread per connection."""
        deadline = Deadline(self.lifetime)
        waiter = Endpoint(self._listening, self.transcript, self.side,
                          timeout=self.lifetime, deadline=deadline, stop=self._stop)
        while True:
            waiter.wait(what="a connection")
            try:
                conn, _ = self._listening.accept()
            except (BlockingIOError, InterruptedError):  # pragma: no cover - raced
                continue
            with self._cond:
                self.connections += 1
            self._spawn(self._connection, conn)

    def _connection(self, conn) -> None:
        n = self.connections
        if conn.family in (socket.AF_INET, socket.AF_INET6):
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        ep = Endpoint(conn, self.transcript, self.side, timeout=self.timeout, stop=self._stop)
        with self._cond:
            self._endpoints.add(ep)
        try:
            if self.connections > 1 or n > 1:
                self.transcript.note(self.side, f"accepted connection {n}")
            self.handle(ep)
        finally:
            ep.close()
            with self._cond:
                self._endpoints.discard(ep)
                self.finished += 1
                self._cond.notify_all()

    def handle(self, ep: Endpoint) -> None:  # pragma: no cover - abstract
        """Serve one connection (overridden by each peer)."""
        raise NotImplementedError

    def wait_finished(self, count: int = 1, timeout: float | None = None) -> bool:
        """Wait until ``count`` connections have been fully handled."""
        with self._cond:
            return self._cond.wait_for(lambda: self.finished >= count,
                                       self.timeout if timeout is None else timeout)

    def stop(self) -> None:
        """Stop serving, join every thread, close every socket (idempotent).

        Threads are woken through the waker; any that somehow do not end in
        time have their sockets shut down under them and are reported in
        ``errors`` rather than left silently running.
        """
        if self._stopped:
            return
        self._stopped = True
        self._stop.set()
        deadline = Deadline(self.timeout)
        joined: set = set()
        while True:
            with self._cond:
                pending = [t for t in self._threads if t not in joined]
            if not pending:
                break
            for t in pending:
                t.join(deadline.remaining())
                joined.add(t)
        stuck = [t for t in self._threads if t.is_alive()]
        if stuck:  # pragma: no cover - only if a peer thread ignores the waker
            with self._cond:
                for ep in list(self._endpoints):
                    hard_close(ep.sock)
            hard_close(self.listener)
            for t in stuck:
                t.join(scaled(0.5))
            self.errors.append(RuntimeError(f"peer threads did not stop: {stuck}"))
        if self.listener is not None:
            self.listener.close()
        self._stop.close()
        if self._bound is not None:
            self._bound.release()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<{self._name} {self.address!r}>"


# -- the reference servers ----------------------------------------------------

class _Echo(Peer):
    def handle(self, ep: Endpoint) -> None:
        while True:
            data = ep.recv()
            if not data:
                return
            ep.sendall(data)


def echo_server(family: int = socket.AF_INET, **kw) -> Peer:
    """An echo server: sends back every byte until the client finishes.

    Why: the simplest possible correct server, so any failure of a learner's
    client against it is the client's.  ``family`` may be AF_INET, AF_INET6
    or AF_UNIX (probe first: :func:`course_lib.probes.ipv6_available`,
    :func:`course_lib.probes.unix_available`).
    """
    return _Echo(family, **kw)


class _Lines(Peer):
    def __init__(self, transform, **kw):
        super().__init__(**kw)
        self.transform = transform

    def handle(self, ep: Endpoint) -> None:
        while True:
            line = ep.recv_line()
            if not line.endswith(b"\n"):
                return  # EOF (possibly after an unterminated line, kept in the transcript)
            ep.sendall(self.transform(line[:-1]) + b"\n")


def line_server(transform=bytes.upper, **kw) -> Peer:
    """Replies one line per request line: ``transform(line) + b'\\n'``.

    Why: exercises ``makefile()`` clients, which must end each line with
    b'\\n' and flush; the default transform upper-cases so the learner can
    tell a reply from an echo of their own bytes.
    """
    return _Lines(transform, **kw)


def timestamp_reply(message: bytes, when: float | None = None) -> bytes:
    """The classic timestamp server's reply: ``b'[' + ctime() + b'] ' + message``."""
    return b"[" + time.ctime(when).encode() + b"] " + message


class _Timestamp(Peer):
    def handle(self, ep: Endpoint) -> None:
        while True:
            data = ep.recv()
            if not data:
                return
            ep.sendall(timestamp_reply(data))


def timestamp_server(**kw) -> Peer:
    """The classic ``[ctime] message`` server, written correctly for Python 3.

    Why: the tutorials' version sends a ``str`` (a TypeError on Python 3)
    and ignores partial sends; this one encodes and uses ``sendall``.
    """
    return _Timestamp(**kw)


class _UdpEcho(Peer):
    sock_type = socket.SOCK_DGRAM

    def __init__(self, drop_first: int, **kw):
        super().__init__(**kw)
        self.drop_first = drop_first
        self.datagrams = 0
        self._handling = False  # between taking a datagram and being ready for the next

    def _listen(self) -> None:
        pass

    def _serve(self) -> None:
        deadline = Deadline(self.lifetime)
        ep = Endpoint(self._listening, self.transcript, self.side,
                      timeout=self.lifetime, deadline=deadline, stop=self._stop)
        while True:
            data, addr = ep.recvfrom(65535)
            with self._cond:
                self._handling = True
                self.datagrams += 1
            try:
                if self.datagrams <= self.drop_first:
                    self.transcript.note(self.side, f"dropped datagram {self.datagrams} on purpose")
                    continue
                ep.sendto(data, addr)
            finally:
                with self._cond:
                    self._handling = False
                    self._cond.notify_all()

    def settled(self, timeout: float) -> bool:
        """Wait (at most ``timeout``) until every datagram sent so far is counted: none is queued on the
        socket and none is being handled. Why: on a busy machine this thread may not yet have taken the
        last datagram a client sent when the client gives up, and ``datagrams`` would say one too few."""
        limit = Deadline(timeout)
        with self._cond:
            while True:
                queued = self.listener is not None and self.listener.fileno() != -1 and \
                    bool(select.select([self.listener], [], [], 0)[0])
                if not (queued or self._handling):
                    return True
                if limit.expired():
                    return False
                self._cond.wait(min(0.005, limit.remaining()))  # (woken when a datagram is handled)


def udp_echo_server(drop_first: int = 0, family: int = socket.AF_INET, **kw) -> Peer:
    """UDP echo server that ignores the first ``drop_first`` datagrams.

    Why: UDP gives no delivery guarantee; dropping datagrams on purpose lets
    a learner's retry loop be tested deterministically.  ``.datagrams``
    counts what arrived (to catch a client that retries forever).
    """
    return _UdpEcho(drop_first, family=family, **kw)


class _Silent(Peer):
    def handle(self, ep: Endpoint) -> None:
        ep.recv_until_eof(what="the client to finish (this server never replies)")


def silent_server(**kw) -> Peer:
    """Accepts, reads whatever arrives, and never replies.

    Why: the only honest way to test a client's timeout is a server that is
    alive (the connection succeeds) but says nothing.
    """
    return _Silent(**kw)


class _Deaf(Peer):
    def _listen(self) -> None:
        # a tiny receive buffer, inherited by each connection: the sender's buffers fill sooner
        self._listening.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        super()._listen()

    def handle(self, ep: Endpoint) -> None:
        self.transcript.note(self.side, "accepted, and never reads")
        self._stop.pause(self.timeout)


def deaf_server(**kw) -> Peer:
    """Accepts and never reads: a sender's buffers fill, and its send waits until the peer goes.

    Why: a client that sends a lot (a file) must have a timeout too; against a server that reads
    everything it never waits, so only a server that reads nothing shows whether it would wait for ever.
    """
    return _Deaf(**kw)


class _Dribble(Peer):
    def __init__(self, payload: bytes, chunk: int, pause: float, **kw):
        super().__init__(**kw)
        self.payload, self.chunk, self.pause = bytes(payload), chunk, pause

    def handle(self, ep: Endpoint) -> None:
        ep.sendall(self.payload, chunk=self.chunk, pause=self.pause)


def dribble_server(payload: bytes, chunk: int = 1, pause: float | None = None, **kw) -> Peer:
    """Sends ``payload`` in ``chunk``-byte pieces (with tiny pauses), then closes.

    Why: on loopback a small reply usually arrives in one ``recv``, hiding
    the classic bug of calling ``recv`` once; dribbling makes every piece a
    separate arrival.  ``pause`` (default 1 ms, scaled) is a deliberate
    delay between pieces.
    """
    return _Dribble(payload, chunk, scaled(0.001) if pause is None else pause, **kw)


class _Reset(Peer):
    def __init__(self, read: int, **kw):
        super().__init__(**kw)
        self.read = read

    def handle(self, ep: Endpoint) -> None:
        if self.read:
            ep.recv(self.read)
        ep.reset()


def reset_server(read: int = 1, **kw) -> Peer:
    """Accepts, reads up to ``read`` bytes, then aborts with RST (SO_LINGER 0).

    Why: lets learners meet ConnectionResetError deliberately, and checks
    that their error handling compares errno symbols from
    :data:`course_lib.probes.RESET_ERRNOS`.
    """
    return _Reset(read, **kw)


class _CloseMidway(Peer):
    def __init__(self, payload: bytes, cut: int, **kw):
        super().__init__(**kw)
        self.payload, self.cut = bytes(payload), cut

    def handle(self, ep: Endpoint) -> None:
        ep.sendall(self.payload[:self.cut])


def close_midway_server(payload: bytes, cut: int | None = None, **kw) -> Peer:
    """Sends ``payload[:cut]`` then closes (cut defaults to the whole payload).

    Why: a peer that stops in the middle of a message is how "EOF
    mid-message" bugs show; with ``cut=len(payload)`` it is simply a server
    that sends a reply and closes.
    """
    return _CloseMidway(payload, len(payload) if cut is None else cut, **kw)


def _count_reply(data: bytes) -> bytes:
    return b"received %d bytes" % len(data)


class _HalfClose(Peer):
    def __init__(self, reply, **kw):
        super().__init__(**kw)
        self.reply = reply

    def handle(self, ep: Endpoint) -> None:
        data = ep.recv_until_eof(what="the client's shutdown(SHUT_WR) (end of the request)")
        ep.sendall(self.reply(data))


def half_close_server(reply=_count_reply, **kw) -> Peer:
    """Reads until the client's EOF, then sends ``reply(data)`` and closes.

    Why: the request/response pattern where the request's end is signalled
    by ``shutdown(SHUT_WR)``; a client that forgets the half-close waits
    forever for a reply this server will never start.
    """
    return _HalfClose(reply, **kw)


class _Late(_Echo):
    def __init__(self, delay: float, **kw):
        super().__init__(**kw)
        self.delay = delay
        self.listening = threading.Event()

    def _listen(self) -> None:
        pass  # bound now (so .address is known), listening only later

    def _serve(self) -> None:
        self._stop.pause(self.delay)  # deliberately late server (sleep-ok)
        self._listening.listen(16)
        self.listening.set()
        self.transcript.note(self.side, f"started listening after {self.delay:.2f} s")
        super()._serve()


def late_server(delay: float, **kw) -> Peer:
    """An echo server that starts listening only after ``delay`` seconds.

    Why: retry/backoff exercises need a server that refuses connections at
    first and then appears; the port is bound at once so ``.address`` is
    known up front, and connecting before it listens is refused.
    """
    return _Late(delay, **kw)
