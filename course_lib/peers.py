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

The :class:`Endpoint` wrapper is shared with the reference *clients* the
checks use to drive learner servers (:func:`connect`).
"""

from __future__ import annotations

import contextlib
import itertools
import select
import socket
import struct
import sys
import threading
import time

from .probes import RESET_ERRNOS, errno_name
from .resources import hard_close, temp_unix_path
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
    "dribble_server",
    "reset_server",
    "close_midway_server",
    "half_close_server",
    "late_server",
    "refused_address",
    "timestamp_reply",
]

_CHUNK = 256 * 1024


class PeerStopped(Exception):
    """Raised inside a peer's thread when the harness asked it to stop."""


class WaitTimeout(TimeoutError):
    """A harness-side wait passed its deadline (the other side went quiet).

    ``.at`` is the monotonic time it happened, so the harness can tell
    whether the learner's code ended before the wait gave up (its cause) or
    after (a consequence of the harness closing its side).
    """

    def __init__(self, *args) -> None:
        super().__init__(*args)
        self.at = time.monotonic()


class _Waker:
    """A socketpair used to interrupt select() in peer threads, portably.

    Why: closing a socket from another thread does not wake a thread blocked
    on it on every platform (macOS ``accept``); a byte written to a waker
    socket that every wait also selects on does, and setting it once wakes
    every current and future wait.
    """

    def __init__(self) -> None:
        self._r, self._w = socket.socketpair()
        self._r.setblocking(False)
        self.is_set = False
        self._lock = threading.Lock()

    def fileno(self) -> int:
        return self._r.fileno()

    def set(self) -> None:
        with self._lock:
            if not self.is_set and self._w.fileno() != -1:
                self.is_set = True
                self._w.send(b"!")

    def pause(self, seconds: float) -> None:
        """Wait ``seconds`` unless stopped first (raises PeerStopped)."""
        r, _, _ = select.select([self._r], [], [], seconds)
        if r:
            raise PeerStopped()

    def close(self) -> None:
        with self._lock:
            self._r.close()
            self._w.close()


def loopback_address(family: int) -> tuple:
    """The loopback host to bind for ``family`` with port 0.

    Why: peers never bind anything but loopback, and always port 0 so the
    operating system picks a free port (a fixed port collides with another
    test, another learner, or a TIME_WAIT left by the previous run).
    """
    if family == socket.AF_INET:
        return ("127.0.0.1", 0)
    if family == socket.AF_INET6:
        return ("::1", 0)
    raise ValueError(f"no loopback (host, port) for family {family!r}")


def _linger_zero() -> bytes:
    # struct linger is two ints on POSIX, two unsigned shorts on Windows.
    return struct.pack("HH" if sys.platform == "win32" else "ii", 1, 0)


class Endpoint:
    """A socket plus a transcript, a deadline and an optional stop signal.

    Why: every read and write the harness does must be recorded (for the
    failure message), bounded in time (never hang a kernel), and
    interruptible when the check ends.  The socket is put in non-blocking
    mode and every wait is a ``select`` on it (and on the stop waker) with a
    timeout: the lesser of ``timeout`` per wait and the overall ``deadline``.
    With ``drain``, data already waiting is still read after the stop signal
    (used when "stop" means "the learner's function has returned").
    """

    def __init__(self, sock, transcript: Transcript, side: str, *,
                 timeout: float | None = None, deadline: Deadline | None = None,
                 stop: _Waker | None = None, drain: bool = False) -> None:
        sock.setblocking(False)
        self.drain = drain
        self.sock = sock
        self.transcript = transcript
        self.side = side
        self.timeout = DEFAULT_DEADLINE if timeout is None else timeout
        self.deadline = deadline
        self._stop = stop
        self._buf = bytearray()
        self.eof = False
        self.closed = False

    # -- waiting ---------------------------------------------------------
    def _limit(self) -> float:
        if self.deadline is None:
            return self.timeout
        return min(self.timeout, self.deadline.remaining())

    def wait(self, read: bool = True, write: bool = False, what: str = "data"):
        """Wait until readable/writable; raise WaitTimeout or PeerStopped."""
        limit = self._limit()
        rlist = [self.sock] if read else []
        if self._stop is not None:
            rlist.append(self._stop)
        wlist = [self.sock] if write else []
        r, w, _ = select.select(rlist, wlist, [], limit)
        if self._stop is not None and self._stop in r:
            if not (self.drain and (self.sock in r or self.sock in w)):
                raise PeerStopped()
        if not r and not w:
            self.transcript.timeout(self.side, f"(gave up after {limit:.2f} s waiting for {what})")
            raise WaitTimeout(f"{self.side} waited {limit:.2f} s for {what}")
        return self.sock in r, self.sock in w

    def pause(self, seconds: float) -> None:
        """A deliberate delay (for misbehaving peers), ended early by stop."""
        if self._stop is not None:
            self._stop.pause(seconds)  # deliberate delay (sleep-ok)
        else:
            time.sleep(seconds)  # noqa: TID251 - sleep-ok: a deliberate delay in a misbehaving peer

    def _io(self, fn, *args):
        try:
            return fn(*args)
        except (BlockingIOError, InterruptedError):
            return None
        except OSError as exc:
            if exc.errno in RESET_ERRNOS:
                self.transcript.reset(self.side, f"(saw {errno_name(exc.errno)}: the other side reset "
                                                 f"or abandoned the connection)")
            else:
                self.transcript.error(self.side, exc)
            raise

    # -- receiving -------------------------------------------------------
    def recv(self, n: int = 65536, what: str = "data") -> bytes:
        """Receive up to n bytes (b'' at EOF), waiting with the deadline."""
        if self._buf:
            data = bytes(self._buf[:n])
            del self._buf[:n]
            return data
        if self.eof:
            return b""
        while True:
            self.wait(what=what)
            data = self._io(self.sock.recv, n)
            if data is None:
                continue
            self.transcript.received(self.side, data)
            if not data:
                self.eof = True
            return data

    def recv_exactly(self, n: int, what: str | None = None) -> bytes:
        """Receive exactly n bytes; EOFError if the other side closes first."""
        out = bytearray()
        while len(out) < n:
            chunk = self.recv(min(n - len(out), _CHUNK), what=what or f"{n - len(out)} more bytes")
            if not chunk:
                raise EOFError(f"connection closed after {len(out)} of {n} bytes")
            out += chunk
        return bytes(out)

    def recv_line(self, what: str = "a line ending in b'\\n'") -> bytes:
        """Receive up to and including b'\\n'; at EOF return what there is."""
        while True:
            i = self._buf.find(b"\n")
            if i >= 0:
                line = bytes(self._buf[:i + 1])
                del self._buf[:i + 1]
                return line
            if self.eof:
                line = bytes(self._buf)
                self._buf.clear()
                return line
            self.wait(what=what)
            data = self._io(self.sock.recv, 65536)
            if data is None:
                continue
            self.transcript.received(self.side, data)
            if not data:
                self.eof = True
            self._buf += data

    def recv_until_eof(self, what: str = "the end of the data (EOF)") -> bytes:
        """Receive everything until the other side finishes sending."""
        out = bytearray()
        while True:
            chunk = self.recv(_CHUNK, what=what)
            if not chunk:
                return bytes(out)
            out += chunk

    # -- sending ---------------------------------------------------------
    def sendall(self, data: bytes, chunk: int | None = None, pause: float = 0.0) -> None:
        """Send all of data, optionally in ``chunk``-sized pieces with pauses."""
        view = memoryview(bytes(data))
        step = chunk or _CHUNK
        off = 0
        while off < len(view):
            piece_end = min(off + step, len(view))
            while off < piece_end:
                self.wait(read=False, write=True, what="room to send (the other side is not reading)")
                n = self._io(self.sock.send, view[off:piece_end])
                if n:
                    self.transcript.sent(self.side, view[off:off + n])
                    off += n
            if chunk and pause and off < len(view):
                self.pause(pause)  # dribbling peer (sleep-ok)

    def exchange(self, data: bytes, expect: int, shutdown: bool = False) -> bytes:
        """Send data while receiving up to ``expect`` bytes, without deadlock.

        Why: echoing 1 MiB needs both directions to flow at once; a client
        that sends everything before reading fills both socket buffers and
        deadlocks with a correct server.
        """
        view = memoryview(bytes(data))
        off = 0
        got = bytearray(self._buf)
        self._buf.clear()
        if shutdown and not view:
            self.shutdown_wr()
        while len(got) < expect and not self.eof:
            sending = off < len(view)
            readable, writable = self.wait(read=True, write=sending, what=f"{expect - len(got)} more bytes")
            if readable:
                chunk = self._io(self.sock.recv, _CHUNK)
                if chunk is not None:
                    self.transcript.received(self.side, chunk)
                    if not chunk:
                        self.eof = True
                    got += chunk
            if writable:
                n = self._io(self.sock.send, view[off:off + _CHUNK])
                if n:
                    self.transcript.sent(self.side, view[off:off + n])
                    off += n
                    if shutdown and off == len(view):
                        self.shutdown_wr()
        return bytes(got)

    # -- UDP -------------------------------------------------------------
    def recvfrom(self, n: int = 65535, what: str = "a datagram"):
        """Receive one datagram: (data, address)."""
        while True:
            self.wait(what=what)
            res = self._io(self.sock.recvfrom, n)
            if res is not None:
                data, addr = res
                self.transcript.record(self.side, "received", data, text=f"from {addr!r}")
                return data, addr

    def sendto(self, data: bytes, address) -> None:
        """Send one datagram to address."""
        while True:
            self.wait(read=False, write=True, what="room to send a datagram")
            if self._io(self.sock.sendto, data, address) is not None:
                self.transcript.record(self.side, "sent", data, text=f"to {address!r}")
                return

    # -- ending ----------------------------------------------------------
    def shutdown_wr(self) -> None:
        """Half-close: tell the other side no more data is coming."""
        self.sock.shutdown(socket.SHUT_WR)
        self.transcript.shutdown(self.side)

    def close(self) -> None:
        """Close the socket (idempotent)."""
        if not self.closed:
            self.closed = True
            self.sock.close()
            self.transcript.close(self.side)

    def reset(self) -> None:
        """Abort the connection with RST (SO_LINGER 0) instead of a clean FIN."""
        if not self.closed:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _linger_zero())
            self.closed = True
            self.sock.close()
            self.transcript.reset(self.side, "(closed with SO_LINGER 0: sends RST)")

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def connect(address, transcript: Transcript, side: str = "client", *,
            family: int | None = None, deadline: Deadline | None = None,
            timeout: float | None = None, rcvbuf: int | None = None) -> Endpoint:
    """Open a reference client connection to a (learner's) server.

    Why: checks drive learner servers with clients whose every byte is
    recorded and whose every wait is bounded; the connect itself is bounded
    too, and the socket is closed if connecting fails.
    """
    if family is None:
        family = socket.AF_UNIX if isinstance(address, str) else (
            socket.AF_INET6 if ":" in address[0] else socket.AF_INET)
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        if rcvbuf:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        limit = DEFAULT_DEADLINE if timeout is None else timeout
        if deadline is not None:
            limit = min(limit, deadline.remaining())
        sock.settimeout(max(limit, 0.001))
        sock.connect(address)
    except BaseException as exc:
        sock.close()
        transcript.error(side, exc)
        raise
    transcript.note(side, f"connected to {address!r}")
    return Endpoint(sock, transcript, side, timeout=timeout, deadline=deadline)


def udp_client(transcript: Transcript, side: str = "client", *, family: int = socket.AF_INET,
               deadline: Deadline | None = None, timeout: float | None = None) -> Endpoint:
    """A bound UDP reference client (its own port, so replies can be routed)."""
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.bind(loopback_address(family))
    except BaseException:  # pragma: no cover - loopback bind does not fail
        sock.close()
        raise
    return Endpoint(sock, transcript, side, timeout=timeout, deadline=deadline)


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
        self.address = None
        self.listener = None
        self.connections = 0
        self.finished = 0
        self._stop = _Waker()
        self._cond = threading.Condition()
        self._threads: list = []
        self._endpoints: set = set()
        self._unix = None
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
    def _bind(self):
        sock = socket.socket(self.family, self.sock_type)
        try:
            if self.family == getattr(socket, "AF_UNIX", None):
                self._unix = temp_unix_path()
                sock.bind(self._unix.__enter__())
            else:
                sock.bind(loopback_address(self.family))
        except BaseException:
            sock.close()
            self._cleanup_unix()
            raise
        self.listener = sock
        self.address = sock.getsockname()

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
        self.listener.listen(16)

    def _spawn(self, target, *args) -> None:
        t = threading.Thread(target=self._guard, args=(target,) + args,
                             name=f"{self._name}-{target.__name__}", daemon=True)
        t._sc_harness = True  # not the learner's: see runners.LearnerCall.orphans
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
        waiter = Endpoint(self.listener, self.transcript, self.side,
                          timeout=self.lifetime, deadline=deadline, stop=self._stop)
        while True:
            waiter.wait(what="a connection")
            try:
                conn, _ = self.listener.accept()
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
        self._cleanup_unix()

    def _cleanup_unix(self) -> None:
        if self._unix is not None:
            self._unix.__exit__(None, None, None)
            self._unix = None

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

    def _listen(self) -> None:
        pass

    def _serve(self) -> None:
        deadline = Deadline(self.lifetime)
        ep = Endpoint(self.listener, self.transcript, self.side,
                      timeout=self.lifetime, deadline=deadline, stop=self._stop)
        while True:
            data, addr = ep.recvfrom(65535)
            self.datagrams += 1
            if self.datagrams <= self.drop_first:
                self.transcript.note(self.side, f"dropped datagram {self.datagrams} on purpose")
                continue
            ep.sendto(data, addr)


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
        self.listener.listen(16)
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


@contextlib.contextmanager
def refused_address(family: int = socket.AF_INET):
    """Yield an address where connections are guaranteed to be refused.

    Why: "pick a port nobody uses" is a race; a socket bound but never
    listening holds the port for the duration, so connecting to it is
    refused (ECONNREFUSED) and nothing else can grab it meanwhile.
    """
    sock = socket.socket(family, socket.SOCK_STREAM)
    with sock, contextlib.ExitStack() as stack:
        if family == getattr(socket, "AF_UNIX", None):
            sock.bind(stack.enter_context(temp_unix_path()))
        else:
            sock.bind(loopback_address(family))
        yield sock.getsockname()
