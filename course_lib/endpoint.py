"""The harness's own sockets: Endpoint, the loopback binder, the stop waker.

Why this module exists: every socket the harness itself reads or writes
(the reference peers' connections, the reference clients that drive a
learner's server, the far end of a socketpair handed to a learner) must be
recorded in a :class:`Transcript` (for the failure message), bounded in time
(never hang a kernel) and interruptible when the check ends.  Those
mechanics live here once; :mod:`course_lib.peers` builds the reference
servers on them and :mod:`course_lib.checks` the reference clients.

The harness's run state lives in objects of its own, never in attributes
set on sockets or threads: :data:`harness_threads` says which threads are
the harness's (not the learner's), and :class:`Bound` owns what binding a
socket created (an AF_UNIX path's private directory).
"""

from __future__ import annotations

import contextlib
import select
import socket
import struct
import sys
import threading
import time
import weakref
from typing import Any, Callable, Iterator

from .probes import RESET_ERRNOS, errno_name
from .resources import temp_unix_path
from .timing import DEFAULT_DEADLINE, Deadline
from .transcript import Transcript

__all__ = [
    "PeerStopped",
    "WaitTimeout",
    "Waker",
    "Bound",
    "bind_loopback",
    "loopback_address",
    "harness_threads",
    "Endpoint",
    "connect",
    "udp_client",
    "refused_address",
]

_CHUNK = 256 * 1024


class PeerStopped(Exception):
    """Raised inside a harness wait when the harness asked it to stop."""


class WaitTimeout(TimeoutError):
    """A harness-side wait passed its deadline (the other side went quiet).

    ``.at`` is the monotonic time it happened, so the harness can tell
    whether the learner's code ended before the wait gave up (its cause) or
    after (a consequence of the harness closing its side).
    """

    def __init__(self, *args: object) -> None:
        super().__init__(*args)
        self.at = time.monotonic()


class Waker:
    """A socketpair used to interrupt select() in harness waits, portably.

    Why: closing a socket from another thread does not wake a thread blocked
    on it on every platform (macOS ``accept``); a byte written to a waker
    socket that every wait also selects on does, and setting it once wakes
    every current and future wait.  Give it to :meth:`Endpoint.stop_when`.
    """

    def __init__(self) -> None:
        self._r, self._w = socket.socketpair()
        self._r.setblocking(False)
        self.is_set = False
        self._lock = threading.Lock()

    def fileno(self) -> int:
        return self._r.fileno()

    def set(self) -> None:
        """Wake every wait on this waker, now and later (idempotent)."""
        with self._lock:
            if not self.is_set and self._w.fileno() != -1:
                self.is_set = True
                self._w.send(b"!")

    def pause(self, seconds: float) -> None:
        """Wait ``seconds`` unless woken first (then raise PeerStopped)."""
        r, _, _ = select.select([self._r], [], [], seconds)
        if r:
            raise PeerStopped()

    def close(self) -> None:
        with self._lock:
            self._r.close()
            self._w.close()


class _HarnessThreads:
    """The threads the harness started (peers, learner calls): not the learner's.

    Why: a check that counts the threads a learner's code left running must
    not count its own; a weak set forgets a thread once it is gone.
    """

    def __init__(self) -> None:
        self._threads: weakref.WeakSet[threading.Thread] = weakref.WeakSet()

    def add(self, thread: threading.Thread) -> threading.Thread:
        self._threads.add(thread)
        return thread

    def __contains__(self, thread: object) -> bool:
        return thread in self._threads


#: Every thread the harness started; ``t in harness_threads`` tells them from the learner's.
harness_threads = _HarnessThreads()


def loopback_address(family: int) -> tuple:
    """The loopback host to bind for ``family`` with port 0.

    Why: the harness never binds anything but loopback, and always port 0 so
    the operating system picks a free port (a fixed port collides with
    another test, another learner, or a TIME_WAIT left by the previous run).
    """
    if family == socket.AF_INET:
        return ("127.0.0.1", 0)
    if family == socket.AF_INET6:
        return ("::1", 0)
    raise ValueError(f"no loopback (host, port) for family {family!r}")


class Bound:
    """What :func:`bind_loopback` made: the address, and the AF_UNIX directory to remove."""

    def __init__(self, address: Any, unix_dir: contextlib.AbstractContextManager | None) -> None:
        self.address = address
        self._unix_dir = unix_dir

    def release(self) -> None:
        """Remove the AF_UNIX socket's private directory, if any (idempotent)."""
        if self._unix_dir is not None:
            self._unix_dir.__exit__(None, None, None)
            self._unix_dir = None


def bind_loopback(sock: socket.socket) -> Bound:
    """Bind ``sock`` to loopback port 0, or to a fresh AF_UNIX path in a private temp dir.

    Why: the one place where the harness binds: loopback only, port 0 only,
    and an AF_UNIX path that cannot collide and whose directory goes away
    with :meth:`Bound.release`.  If binding fails nothing is left behind
    (the socket itself stays the caller's to close).
    """
    unix_dir = None
    try:
        if sock.family == getattr(socket, "AF_UNIX", None):
            unix_dir = temp_unix_path()
            sock.bind(unix_dir.__enter__())
        else:
            sock.bind(loopback_address(sock.family))
        return Bound(sock.getsockname(), unix_dir)
    except BaseException:
        Bound(None, unix_dir).release()
        raise


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

    def __init__(self, sock: socket.socket, transcript: Transcript, side: str, *,
                 timeout: float | None = None, deadline: Deadline | None = None,
                 stop: Waker | None = None, drain: bool = False) -> None:
        sock.setblocking(False)
        self.sock = sock
        self.transcript = transcript
        self.side = side
        self.timeout = DEFAULT_DEADLINE if timeout is None else timeout
        self.deadline = deadline
        self._stop = stop
        self._drain = drain
        self._buf = bytearray()
        self.eof = False
        self.closed = False

    def stop_when(self, waker: Waker | None, *, drain: bool = True) -> None:
        """End this endpoint's waits when ``waker`` is set (None: only at the deadline).

        With ``drain`` (the default) data already waiting is still read first:
        "stop" then means "the learner's function has returned", and what it
        sent before returning still counts.
        """
        self._stop, self._drain = waker, drain

    # -- waiting ---------------------------------------------------------
    def limit(self) -> float:
        """How long the next wait may last: the lesser of the per-wait timeout and the deadline."""
        if self.deadline is None:
            return self.timeout
        return min(self.timeout, self.deadline.remaining())

    def wait(self, read: bool = True, write: bool = False, what: str = "data") -> tuple[bool, bool]:
        """Wait until readable/writable; raise WaitTimeout or PeerStopped."""
        limit = self.limit()
        rlist: list = [self.sock] if read else []
        if self._stop is not None:
            rlist.append(self._stop)
        wlist = [self.sock] if write else []
        r, w, _ = select.select(rlist, wlist, [], limit)
        if self._stop is not None and self._stop in r:
            if not (self._drain and (self.sock in r or self.sock in w)):
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

    def _io(self, fn: Callable, *args: Any) -> Any:
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
    def _take(self, n: int) -> bytes | None:
        """The one receive: one recv() once readable, recorded (None if it would block)."""
        data = self._io(self.sock.recv, n)
        if data is not None:
            self.transcript.received(self.side, data)
            if not data:
                self.eof = True
        return data

    def recv(self, n: int = 65536, what: str = "data") -> bytes:
        """Receive up to n bytes (b'' at EOF), waiting with the deadline."""
        if self._buf:
            data = bytes(self._buf[:n])
            del self._buf[:n]
            return data
        while not self.eof:
            self.wait(what=what)
            got = self._take(n)
            if got is not None:
                return got
        return b""

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
            if i >= 0 or self.eof:
                end = i + 1 if i >= 0 else len(self._buf)
                line = bytes(self._buf[:end])
                del self._buf[:end]
                return line
            self.wait(what=what)
            self._buf += self._take(65536) or b""

    def recv_until_eof(self, what: str = "the end of the data (EOF)") -> bytes:
        """Receive everything until the other side finishes sending."""
        out = bytearray()
        while True:
            chunk = self.recv(_CHUNK, what=what)
            if not chunk:
                return bytes(out)
            out += chunk

    # -- sending ---------------------------------------------------------
    def _give(self, view: memoryview) -> int:
        """The one send: one send() once writable, recorded; how many bytes went."""
        n = self._io(self.sock.send, view)
        if n:
            self.transcript.sent(self.side, view[:n])
        return n or 0

    def sendall(self, data: bytes, chunk: int | None = None, pause: float = 0.0) -> None:
        """Send all of data, optionally in ``chunk``-sized pieces with pauses."""
        view = memoryview(bytes(data))
        step = chunk or _CHUNK
        off = 0
        while off < len(view):
            piece_end = min(off + step, len(view))
            while off < piece_end:
                self.wait(read=False, write=True, what="room to send (the other side is not reading)")
                off += self._give(view[off:piece_end])
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
                got += self._take(_CHUNK) or b""
            if writable:
                off += self._give(view[off:off + _CHUNK])
                if shutdown and off == len(view):
                    self.shutdown_wr()
        return bytes(got)

    # -- UDP -------------------------------------------------------------
    def recvfrom(self, n: int = 65535, what: str = "a datagram") -> tuple[bytes, Any]:
        """Receive one datagram: (data, address)."""
        while True:
            self.wait(what=what)
            res = self._io(self.sock.recvfrom, n)
            if res is not None:
                data, addr = res
                self.transcript.record(self.side, "received", data, text=f"from {addr!r}")
                return data, addr

    def sendto(self, data: bytes, address: Any) -> None:
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

    def __enter__(self) -> Endpoint:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def connect(address: Any, transcript: Transcript, side: str = "client", *,
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
        bind_loopback(sock)
    except BaseException:  # pragma: no cover - loopback bind does not fail
        sock.close()
        raise
    return Endpoint(sock, transcript, side, timeout=timeout, deadline=deadline)


@contextlib.contextmanager
def refused_address(family: int = socket.AF_INET) -> Iterator[Any]:
    """Yield an address where connections are guaranteed to be refused.

    Why: "pick a port nobody uses" is a race; a socket bound but never
    listening holds the port for the duration, so connecting to it is
    refused (ECONNREFUSED) and nothing else can grab it meanwhile.
    """
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        bound = bind_loopback(sock)
        try:
            yield bound.address
        finally:
            bound.release()
