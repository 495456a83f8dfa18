"""The driver of the selector-server checks: tight listeners and watches on the learner's server.

Why this module exists: a selectors server passes by luck on loopback
unless its send buffers are small (so a blocking ``sendall`` really blocks),
and its failures are only understood if the check knows whether it served
every client from one thread and whether a selector was in play.
:func:`_serve_explained` runs the learner's server through ``_serve`` with
those watches and explains what went wrong.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import threading
import time

from ..failures import exception_name
from .. import faults
from ..endpoint import harness_threads
from ..learner import ThisProcess, judged_kernel, process_of
from ..resources import hard_close
from ..runners import HarnessSocket, LearnerTimeout
from ..transcript import Transcript
from .drivers import _serve
from .vocabulary import _NOT_NOW, _check_closed_all, _fail, _show


def _threads_now(before: set) -> list:
    """Python threads started since ``before`` that are still running, not the harness's."""
    return [t for t in threading.enumerate()
            if t not in before and t not in harness_threads and t.is_alive()]


class _ThreadWatch:
    """Notices a server that uses more than the one thread it was called in.

    Python threads are listed by ``threading``; threads started another way
    (``_thread``) are counted from the operating system's view of the process.
    The harness itself adds exactly one thread (the learner's call).  ``fn``, the
    learner's function, says which process: in the judge, the kernel's threads are
    counted from outside (/proc/<pid>/task; course_lib.learner).
    """

    def __init__(self, fn=None) -> None:
        self.where = process_of(fn)
        self.here = isinstance(self.where, ThisProcess)  # Python threads are listed only here
        self.before = set(threading.enumerate())
        self.os_before = self.where.threads()
        self.seen: list = []
        self.os_extra = 0

    def sample(self) -> None:
        if self.here:
            self.seen = self.seen or _threads_now(self.before)
        now = self.where.threads()
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
    harness_kind = "tight"  # the judge's agent makes one of these in the kernel too

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
        return _fail(f"{what} raised {exception_name(cause)}: {text}.",
                     hint="unregister a socket from the selector before you close it "
                          "(sel.unregister(conn); conn.close()): the next connection may get "
                          "the same file descriptor number")
    if isinstance(cause, OSError):
        return _fail(f"{what} raised {exception_name(cause)}: {cause}.",
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
    A judge forwards the watch to the learner's kernel (faults.forwarded): the
    selectors are watched there, and what was seen comes back (``left_there``:
    selectors the server left open, closed by the kernel's watch).
    """

    BUSY = 20  # consecutive select() calls that report a connection writable for nothing

    def __init__(self, echo: bool) -> None:
        self.echo, self.stale, self.busy = echo, 0, 0
        self.made: list = []
        self._spurious: dict = {}
        self.left_there = 0
        self.spinning = threading.Event()  # set once ``busy`` reaches BUSY (where the selectors are watched)
        self.cpu_share: float | None = None  # (a judge) the CPU the kernel used in the idle window, per second

    SPINNING = 0.25  # the share of one CPU a server may use while every client is idle, seen from outside

    def idle(self, seconds: float) -> None:
        """Hold the clients idle (every echo received, nothing sent) for up to ``seconds``: a server that
        watches EVENT_WRITE with nothing to send spins through BUSY select() calls in that time, on a busy
        machine as on a quiet one; a right one sleeps in select() and the window runs out. Where the
        watch runs in the learner's kernel (a judge), nothing here is told, and the window runs out; the
        judge reads the CPU time the kernel used in it instead (a server asleep in select() uses none)."""
        kernel = judged_kernel()
        used = kernel.cpu_seconds() if kernel is not None else None
        start = time.monotonic()
        self.spinning.wait(seconds)
        if used is not None:
            now = kernel.cpu_seconds()
            if now is not None:
                self.cpu_share = (now - used) / max(time.monotonic() - start, 1e-3)

    def _close_left(self) -> int:
        """Close the selectors the server left open; return how many there were."""
        left = [sel for sel in self.made if sel.get_map() is not None]
        for sel in left:
            sel.close()
        self.made = [sel for sel in self.made if sel not in left]
        return len(left)

    def seen(self) -> dict:
        """What the watch saw, for a judge (closes the selectors left open, as verdict does)."""
        return {"left": self._close_left(), "stale": self.stale, "busy": self.busy}

    def _merge(self, result) -> None:
        if isinstance(result, dict):
            self.left_there += int(result.get("left", 0))
            self.stale += int(result.get("stale", 0))
            self.busy = max(self.busy, int(result.get("busy", 0)))

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
        with faults._override(selectors, "DefaultSelector", Watched), \
                faults.forwarded({"kind": "watch_selectors", "echo": self.echo}, self._merge):
            yield self

    def _note(self, ready, write: int) -> None:
        idle = {id(k.fileobj) for k, ev in ready if ev & write and isinstance(k.fileobj, HarnessSocket)
                and k.fileobj.bytes_received <= k.fileobj.bytes_sent}
        self._spurious = {key: self._spurious.get(key, 0) + 1 for key in idle}
        self.busy = max([self.busy, *self._spurious.values()])
        if self.busy >= self.BUSY:
            self.spinning.set()

    def verdict(self, what: str, transcript: Transcript) -> None:
        if self._close_left() or self.left_there:
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
        if self.cpu_share is not None and self.cpu_share >= self.SPINNING:
            raise _fail(f"{what} kept a CPU {self.cpu_share:.0%} busy while every client was idle "
                        f"(all echoes received, nothing sent): a busy-wait.",
                        expected="the server asleep in select() until a client sends",
                        hint="watch EVENT_WRITE only while that connection's outgoing buffer has bytes: "
                             "after each step, EVENT_WRITE if buffer else 0, plus EVENT_READ, and "
                             "sel.modify(conn, events, buffer) when they change",
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


def _serve_explained(server_fn, script, n, what, deadline, listener, watch, selectors_watch=None, late: int = 0):
    """Serve `script`'s clients with the learner's server; `late`: how many of them come after the n it
    is to serve and must be left waiting in the backlog."""
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
        err = listener.run.error
        if err is not None and (exc.__cause__ is err or listener.run.finished_before(exc)):
            better = _server_explained(err, what)
            if better is not None:
                raise better from err
        raise
    watch.verdict(what, n, run.transcript)
    if run.accepted > n or (run.queued is not None and run.queued < late):  # queued: seen from a judge
        raise _fail(f"{what} accepted {max(run.accepted, n + 1)} connections: a client that came after the "
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
