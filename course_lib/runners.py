"""Run learner code so that it can fail, but never hang or leak.

Why this module exists: a notebook test cell calls the learner's function;
if that function blocks forever in ``accept`` or ``recv``, the kernel hangs
and the learner learns nothing.  These runners call learner code in a
daemon thread with a deadline, re-raise its exceptions (with their
tracebacks) in the test cell, and on a timeout close every socket the
harness handed it so the abandoned thread unblocks, then raise
:class:`LearnerTimeout` with what was expected and what crossed the wire.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import threading
import time
from typing import Callable, NamedTuple

from . import exchange
from .endpoint import Bound, bind_loopback, harness_threads
from .resources import hard_close
from .timing import DEFAULT_DEADLINE, Deadline, scaled
from .transcript import Transcript

_set_async_exc: Callable[..., int] | None
try:  # pragma: no cover - ctypes exists on every CPython we support
    import ctypes
    _set_async_exc = ctypes.pythonapi.PyThreadState_SetAsyncExc
except (ImportError, AttributeError):  # pragma: no cover
    _set_async_exc = None

__all__ = [
    "LearnerTimeout",
    "LearnerCall",
    "run_with_deadline",
    "run_client",
    "run_server",
    "ServerRun",
    "ServerState",
    "HarnessSocket",
    "harness_listener",
    "shape",
]


class LearnerTimeout(AssertionError):
    """The learner's code did not finish within its deadline.

    An AssertionError so that nbgrader and pytest count it as a failed test,
    not as an error in the harness.  ``transcript`` (or None) is drawn by
    :mod:`course_lib.failures`.
    """

    transcript: Transcript | None = None


class _Abandoned(BaseException):
    """Injected into an abandoned learner thread so a busy loop ends.

    A BaseException so that a learner's ``except Exception`` cannot swallow it.
    """


_unraisable_filters: list = []  # the hooks _install_unraisable_filter installed


def _install_unraisable_filter() -> None:
    """Keep an ``_Abandoned`` that surfaces as an unraisable exception off stderr.

    Why: an interrupt that lands while a thread is being torn down is
    reported as "Exception ignored in thread started by ..." on stderr,
    which costs the learner a notebook cell; it is harness noise.
    """
    hook = sys.unraisablehook
    if hook in _unraisable_filters:
        return

    def filtered(unraisable, _previous=hook):
        if unraisable.exc_type is not None and issubclass(unraisable.exc_type, _Abandoned):
            return
        _previous(unraisable)

    _unraisable_filters.append(filtered)
    sys.unraisablehook = filtered


class ServerState:
    """How a learner's server function ended, as run_server saw it (one per listener it serves).

    ended: an Event set once it returned or raised and what it left was noted (a client script can wait
    for it); error: what it raised (None if it returned); finished_at: when (time.monotonic()); orphans:
    threads it left running when it returned.
    """

    def __init__(self) -> None:
        self.ended = threading.Event()
        self.error: BaseException | None = None
        self.finished_at = float("inf")
        self.orphans = 0

    @property
    def finished(self) -> bool:
        return self.ended.is_set()

    def finished_before(self, exc: BaseException) -> bool:
        """True if the learner's server function ended before ``exc`` happened.

        Why: when the reference client fails, the harness closes its side,
        which often makes the learner's function end (or raise a reset)
        moments later; only an ending that came *first* explains the
        client's failure.  Exceptions without a time (``.at``) are assumed
        to have followed the ending, if there was one.
        """
        return self.finished and self.finished_at <= getattr(exc, "at", float("inf"))


class HarnessSocket(socket.socket):
    """A socket that exercises the parts of the contract loopback hides.

    Why: on loopback ``send()`` nearly always sends everything and ``recv()``
    returns whole messages, so learners who call ``send`` instead of
    ``sendall``, or ``recv`` once, pass by luck.  The documentation allows
    both calls to transfer fewer bytes than asked; with ``short_sends`` /
    ``short_recvs`` this socket does so (at most half, at least one byte),
    deterministically.  ``recv_cap`` (when not 0) bounds every ``recv`` to that many bytes, so
    "the bytes arrive in pieces of n" holds whatever the scheduler does, with the whole stream already
    waiting in the buffer.  A listening HarnessSocket hands out HarnessSockets
    from ``accept()`` and remembers them in ``.accepted`` so the harness can
    check they were closed and close them if the learner's code timed out.
    """

    harness_kind = ""  # what a judge's agent makes of it in the kernel (judge/wire.py; "" a HarnessSocket)

    def __init__(self, *args, short_sends: bool = False, short_recvs: bool = False, recv_cap: int = 0, **kw):
        super().__init__(*args, **kw)
        self.short_sends = short_sends
        self.short_recvs = short_recvs
        self.recv_cap = recv_cap
        self.accepted: list = []
        self.bound: Bound | None = None  # set by harness_listener: the binding to release
        self.short_sends_made = 0
        self.bytes_sent = 0  # by the learner's code, whatever the reference client then saw
        self.bytes_received = 0
        self.run = ServerState()  # how the learner's server function, given this listener, ended
        self.queued: int | None = None  # (a judge) clients still in its backlog when the call ended

    def accept(self):
        """Like socket.accept, but the connection is a HarnessSocket."""
        fd, addr = self._accept()
        try:
            conn = HarnessSocket(self.family, self.type, self.proto, fileno=fd, short_sends=self.short_sends,
                                 short_recvs=self.short_recvs, recv_cap=self.recv_cap)
        except BaseException:  # e.g. the harness interrupting an abandoned call
            os.close(fd)
            raise
        if socket.getdefaulttimeout() is None and self.gettimeout():
            conn.setblocking(True)
        self.accepted.append(conn)
        return conn, addr

    def send(self, data, flags=0):
        """send(), sending at most half of ``data`` when short_sends is on."""
        if self.short_sends:
            try:
                view = memoryview(data).cast("B")
            except TypeError:
                return super().send(data, flags)  # the usual "bytes-like object is required"
            if len(view) > 1:
                data = view[:len(view) // 2]
                self.short_sends_made += 1
        n = super().send(data, flags)
        self.bytes_sent += n
        return n

    def sendall(self, data, flags=0):
        """sendall(), counting the bytes sent."""
        super().sendall(data, flags)
        self.bytes_sent += memoryview(data).nbytes

    def recv(self, bufsize, flags=0):
        """recv(), returning at most half of ``bufsize`` when short_recvs is on, at most recv_cap bytes."""
        if self.short_recvs and bufsize > 1:
            bufsize //= 2
        if self.recv_cap and bufsize > self.recv_cap:
            bufsize = self.recv_cap
        data = super().recv(bufsize, flags)
        self.bytes_received += len(data)
        return data

    def recv_into(self, buffer, nbytes=0, flags=0):
        """recv_into(), filling at most half of the space when short_recvs is on, at most recv_cap bytes."""
        if self.short_recvs or self.recv_cap:  # else the buffer goes to the socket untouched (its own errors)
            nbytes = nbytes or memoryview(buffer).nbytes
            if self.short_recvs and nbytes > 1:
                nbytes //= 2
            if self.recv_cap:
                nbytes = min(nbytes, self.recv_cap)
        n = super().recv_into(buffer, nbytes, flags)
        self.bytes_received += n
        return n


def _silent_excepthook(thread) -> None:
    """Stands in for a thread's ``_invoke_excepthook``: its end is harness business."""


def _ignore_abandoned(original):
    def invoke(thread):
        if isinstance(sys.exc_info()[1], _Abandoned):
            return
        original(thread)
    return invoke


def _quiet_thread(thread: threading.Thread) -> None:
    """Keep an abandoned learner thread's dying exception off stderr.

    Why: when the harness closes the sockets of a learner's worker thread it
    no longer waits for (the learner's function returned without joining it,
    or ran past its deadline), that thread dies with an OSError that
    ``threading.excepthook`` would print to stderr, possibly during a later
    notebook cell, and nbgrader scores a cell that writes to stderr 0.  The
    failure (if there is one) is already reported by the check.
    """
    if hasattr(thread, "_invoke_excepthook"):
        thread._invoke_excepthook = _silent_excepthook


def _harness_thread(thread: threading.Thread) -> bool:
    return thread in harness_threads


def shape(sock, short_sends: bool = True, short_recvs: bool = True, recv_cap: int = 0) -> HarnessSocket:
    """Turn ``sock`` into a :class:`HarnessSocket` (the original is detached).

    Why: the framing and recv-exactly checks hand learners one end of a
    socketpair; shaping it makes partial sends and reads certain rather than
    a matter of luck.
    """
    timeout = sock.gettimeout()
    new = HarnessSocket(sock.family, sock.type, sock.proto, fileno=sock.detach(),
                        short_sends=short_sends, short_recvs=short_recvs, recv_cap=recv_cap)
    new.settimeout(timeout)
    return new


def harness_listener(family: int = socket.AF_INET, *, short_sends: bool = False,
                     short_recvs: bool = False, backlog: int = 16) -> HarnessSocket:
    """A listening HarnessSocket on loopback, port 0 (or a temp AF_UNIX path).

    Why: learner servers are given a ready listener rather than creating
    their own, so they can never bind a fixed port or a public interface,
    and the harness knows every connection they accept.  For AF_UNIX the
    socket file's temp dir is removed when the listener is closed by
    :func:`run_server`.
    """
    sock = HarnessSocket(family, socket.SOCK_STREAM, short_sends=short_sends,
                         short_recvs=short_recvs)
    try:
        sock.bound = bind_loopback(sock)
        sock.listen(backlog)
    except BaseException:
        _close_listener(sock)
        raise
    return sock


def _close_listener(sock) -> None:
    hard_close(sock)
    if sock.bound is not None:
        sock.bound.release()


def _sockets_in(values) -> list:
    return [v for v in values if isinstance(v, socket.socket)]


class LearnerCall:
    """One call of learner code in a daemon thread.

    Why: the call must be able to outlive its welcome without taking the
    kernel with it.  ``wait()`` bounds the wait, ``result()`` returns the
    value or re-raises the learner's own exception with its traceback, and
    ``abandon()`` closes the sockets it was given, interrupts it, and joins
    it briefly.  ``on_finish`` runs in the learner's thread right after the
    call ends (used to close connections the learner left open, so the
    reference client sees EOF immediately instead of at the deadline).
    """

    def __init__(self, fn, args=(), kwargs=None, what: str = "your function", on_finish=None):
        self.fn, self.args, self.kwargs = fn, tuple(args), dict(kwargs or {})
        self.what = what
        self.on_finish = on_finish
        self.value = None
        self.exception: BaseException | None = None
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True,
                                       name=f"learner-{getattr(fn, '__name__', 'call')}")
        harness_threads.add(self.thread)
        if hasattr(self.thread, "_invoke_excepthook"):  # an interrupt landing late stays quiet
            self.thread._invoke_excepthook = _ignore_abandoned(self.thread._invoke_excepthook)
        self._before: set = set()
        #: Threads the learner's code started that were still running when it
        #: returned (or was abandoned); their exceptions no longer reach stderr.
        self.orphans: list = []
        self.abandoned = False
        self._lock = threading.Lock()
        self._finished = False  # set under _lock: no interrupt is injected after it
        self._on_finish_ran = False

    def start(self) -> "LearnerCall":
        _install_unraisable_filter()
        self._before = set(threading.enumerate())
        self.thread.start()
        return self

    def _adopt_orphans(self) -> None:
        """Note (and quiet) the threads the learner started that are still running."""
        found = [t for t in threading.enumerate()
                 if t not in self._before and not _harness_thread(t) and t.is_alive()
                 and t not in self.orphans]
        for t in found:
            _quiet_thread(t)
        self.orphans.extend(found)

    def _run(self) -> None:
        try:
            self.value = self.fn(*self.args, **self.kwargs)
        except _Abandoned:
            pass
        except BaseException as exc:  # handed to the caller by result()
            self.exception = exc
        # An interrupt injected just as fn returned may still fire during the
        # bookkeeping below (at the latest when it calls Event.set); catch it
        # wherever it lands and finish again (every step is idempotent).
        # (Cancelling it with PyThreadState_SetAsyncExc(id, NULL) instead
        # livelocks under a trace function such as coverage's.)
        while True:
            try:
                self._finish()
                return
            except _Abandoned:
                continue

    def _finish(self) -> None:
        with self._lock:
            self._finished = True
        try:
            self._adopt_orphans()  # before on_finish closes the sockets they use
            if self.on_finish is not None and not self.abandoned and not self._on_finish_ran:
                self._on_finish_ran = True
                self.on_finish()
        finally:
            self.done.set()

    def wait(self, timeout: float) -> bool:
        """True if the call ended within ``timeout`` seconds."""
        if self.done.wait(timeout):
            self.thread.join(scaled(1.0))
            return True
        return False

    def result(self):
        """The return value, or the learner's exception re-raised."""
        if self.exception is not None:
            exc = self.exception
            self.exception = None  # break the frame <-> exception cycle
            raise exc
        return self.value

    def abandon(self, sockets=()) -> bool:
        """Stop waiting: close ``sockets``, interrupt the thread, join briefly.

        Returns True if the thread ended.  A thread stuck in C code that
        neither the closed sockets nor the interrupt reach stays behind as
        a daemon (and is reported as such in the timeout message).
        """
        self.abandoned = True
        self._adopt_orphans()
        # Shut down first, close after the join: a socket that is shut down but still open keeps
        # waking a thread that waits on it (recv, accept, or a selector: epoll forgets a closed
        # descriptor, so a thread in epoll_wait on closed sockets would sleep forever). Under a
        # trace function (coverage) on CPython 3.11, an interrupt pending for a thread that never
        # returns to Python stalls every other thread at its next call.
        for sock in sockets:
            with contextlib.suppress(OSError):
                if sock.fileno() != -1:
                    sock.shutdown(socket.SHUT_RDWR)
        with self._lock:
            if not self._finished and _set_async_exc is not None and self.thread.ident is not None:
                _set_async_exc(ctypes.c_ulong(self.thread.ident), ctypes.py_object(_Abandoned))
        self.thread.join(scaled(1.0))
        for sock in sockets:
            hard_close(sock)
        return not self.thread.is_alive()


def _timeout_message(what: str, seconds: float, expected: str | None,
                     transcript: Transcript | None, stopped: bool, hint: str | None = None) -> str:
    lines = [f"{what} did not finish within {seconds:.1f} s."]
    if expected:
        lines.append(f"Expected: {expected}")
    if hint:
        lines.append(f"Hint: {hint}")
    if not stopped:
        lines.append("(It could not be interrupted and was left running in the background.)")
    if transcript is not None:
        lines.append("  the exchange:")
        lines.append(exchange.text(transcript))
    return "\n".join(lines)


def _timeout(message: str, transcript: Transcript | None) -> LearnerTimeout:
    err = LearnerTimeout(message)
    err.transcript = transcript  # drawn by course_lib.failures
    return err


def run_with_deadline(fn, *args, deadline: float | None = None, what: str = "your function",
                      transcript: Transcript | None = None, expected: str | None = None,
                      hint: str | None = None, cleanup=(), on_timeout=None, **kwargs):
    """Call ``fn(*args, **kwargs)`` in a daemon thread and wait at most ``deadline``.

    Why: every notebook test cell must end, whatever the learner wrote.  The
    learner's exception is re-raised here with its traceback; if the call
    runs past ``deadline`` (default :data:`~course_lib.timing.DEFAULT_DEADLINE`)
    it is abandoned: ``on_timeout()`` runs (e.g. stop the peer), sockets in
    ``args``/``kwargs``/``cleanup`` are shut down and closed so a blocked
    thread wakes up, and :class:`LearnerTimeout` is raised with ``expected``,
    ``hint`` and the ``transcript``.
    """
    seconds = DEFAULT_DEADLINE if deadline is None else deadline
    call = LearnerCall(fn, args, kwargs, what).start()
    if call.wait(seconds):
        return call.result()
    if on_timeout is not None:
        on_timeout()
    stopped = call.abandon(_sockets_in(args) + _sockets_in(kwargs.values()) + list(cleanup))
    raise _timeout(_timeout_message(what, seconds, expected, transcript, stopped, hint), transcript)


def run_client(client_fn, *args, peer, deadline: float | None = None,
               what: str = "your client", expected: str | None = None,
               hint: str | None = None, **kwargs):
    """Run a learner's client function against a running reference ``peer``.

    Why: on a timeout the peer is stopped first, which closes its side of
    every connection, so a client blocked in ``recv`` wakes with EOF and its
    thread ends; the timeout message shows the peer's transcript.
    """
    return run_with_deadline(client_fn, *args, deadline=deadline, what=what,
                             transcript=peer.transcript, expected=expected, hint=hint,
                             on_timeout=peer.stop, **kwargs)


class ServerRun(NamedTuple):
    """What :func:`run_server` observed.

    ``result``: the learner function's return value; ``client_result``: the
    client script's; ``accepted``: how many connections the learner
    accepted; ``unclosed``: how many of those were still open when it
    returned; ``transcript``: what crossed the wire; ``orphans``: how many
    threads it had started were still running when it returned (it did not
    join them); ``queued`` (in a judge): how many clients were still waiting in
    the listener's backlog when it returned, read from the socket, not the kernel.
    """

    result: object
    client_result: object
    accepted: int
    unclosed: int
    transcript: Transcript
    orphans: int = 0
    queued: int | None = None  # (a judge) clients left in the listener's backlog, seen from outside


def run_server(server_fn, client_script, *args, family: int = socket.AF_INET,
               deadline: float | None = None, what: str = "your server",
               expected: str | None = None, hint: str | None = None,
               transcript: Transcript | None = None, short_sends: bool = False,
               short_recvs: bool = False, listener=None) -> ServerRun:
    """Drive a learner's server function with a scripted reference client.

    ``server_fn(listener, *args)`` runs in a learner thread, given a
    listening :class:`HarnessSocket` on loopback port 0.
    ``client_script(address, transcript, deadline)`` runs in the calling
    thread (use :func:`course_lib.peers.connect` with that ``deadline``).
    If the learner's function raises, that exception is re-raised (it is the
    root cause, even if the client also failed).  If the client script fails
    while the server is still running, the client's exception is raised.
    If the server does not return after the script, :class:`LearnerTimeout`.
    The listener and every accepted connection are closed in every outcome.

    Why: servers are the harder half to test, because the learner's code
    owns the loop; the harness owns everything else.
    """
    seconds = DEFAULT_DEADLINE if deadline is None else deadline
    dl = Deadline(seconds)
    transcript = Transcript() if transcript is None else transcript
    if listener is None:
        listener = harness_listener(family, short_sends=short_sends, short_recvs=short_recvs)
    unclosed: list = []

    def finish() -> None:
        # Runs in the learner thread as it returns: note (then close) what it
        # left open, so the reference client sees EOF now, not at the deadline.
        state = listener.run
        state.finished_at = time.monotonic()
        state.error = call.exception
        state.orphans = len(call.orphans)
        unclosed.extend(c for c in listener.accepted if c.fileno() != -1)
        state.ended.set()
        for c in listener.accepted:
            hard_close(c)
        hard_close(listener)  # clients still queued in the backlog see a reset now

    call = LearnerCall(server_fn, (listener,) + args, {}, what, on_finish=finish)
    try:
        call.start()
        try:
            client_result = client_script(listener.getsockname(), transcript, dl)
        except BaseException as exc:
            # The learner's exception, if it has one (give it a moment: its own
            # `with conn:` may have closed the connection just before it
            # finished), usually explains the client's failure.  Not a
            # connection error raised after the client gave up and closed:
            # that is only a consequence.
            if call.wait(scaled(0.1)) and call.exception is not None:
                err = call.exception
                consequence = isinstance(err, OSError) and (
                    isinstance(exc, AssertionError) or not listener.run.finished_before(exc))
                if not consequence:
                    call.result()
            raise
        if not call.wait(dl.remaining()):
            stopped = call.abandon([listener] + listener.accepted)
            raise _timeout(_timeout_message(what, seconds, expected, transcript,
                                            stopped, hint), transcript)
        result = call.result()
        return ServerRun(result, client_result, len(listener.accepted), len(unclosed), transcript,
                         len(call.orphans), getattr(listener, "queued", None))
    finally:
        if not call.done.is_set():
            call.abandon([listener] + listener.accepted)
        for c in listener.accepted:
            hard_close(c)
        _close_listener(listener)
