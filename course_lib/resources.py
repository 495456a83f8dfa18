"""Detect what a piece of socket code left behind, and clean up after it.

Why this module exists: a check that passes but leaves a thread blocked in
``accept`` or a socket open poisons every later cell in the notebook kernel
(ports stay busy, threads pile up, ``ResourceWarning`` noise appears far from
its cause).  These helpers let the harness, its tests and notebook test cells
assert "nothing leaked" and close learner sockets in a way that really wakes
a thread blocked on them.
"""

from __future__ import annotations

import contextlib
import gc
import os
import shutil
import socket
import stat
import sys
import tempfile
import threading
import warnings

from .timing import Deadline, scaled

__all__ = [
    "open_fds",
    "count_open_fds",
    "describe_fd",
    "assert_no_fd_leak",
    "assert_no_thread_leak",
    "hard_close",
    "temp_unix_path",
    "record_unclosed",
    "new_socket_fds",
]


def _fd_dir() -> str | None:
    if sys.platform.startswith("linux") and os.path.isdir("/proc/self/fd"):
        return "/proc/self/fd"
    if sys.platform == "darwin" and os.path.isdir("/dev/fd"):
        return "/dev/fd"
    return None


def open_fds() -> set | None:
    """Return the set of file descriptors open in this process, or None.

    Why: counting descriptors before and after a check is the only way to
    catch a socket nobody closed (the Python object may be long gone while
    the descriptor lives on).  Uses ``/proc/self/fd`` on Linux and
    ``/dev/fd`` on macOS; returns None where the answer is unknowable
    (Windows), so callers can skip the comparison instead of guessing.
    """
    where = _fd_dir()
    if where is None:
        return None
    result = set()
    for name in os.listdir(where):
        fd = int(name)
        try:
            # listdir itself used a descriptor that is closed by now; keep
            # only descriptors that are still open.
            os.fstat(fd)
        except OSError:
            continue
        result.add(fd)
    return result


def count_open_fds() -> int | None:
    """Number of open file descriptors, or None where unknowable.

    Why: a quick number for notebooks and benchmarks ("no descriptor was
    left open") without the cost of describing each one.
    """
    fds = open_fds()
    return None if fds is None else len(fds)


def _fd_kind(fd: int) -> str:
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        return "closed"
    for test, kind in ((stat.S_ISSOCK, "socket"), (stat.S_ISFIFO, "pipe"),
                       (stat.S_ISREG, "file"), (stat.S_ISDIR, "directory"),
                       (stat.S_ISCHR, "character device")):
        if test(mode):
            return kind
    return "descriptor"  # pragma: no cover - block devices, event fds...


def describe_fd(fd: int, shown: int | None = None) -> str:
    """Describe one descriptor for a leak message ("socket 127.0.0.1:5000 -> ...").

    Why: "1 descriptor leaked" is not actionable; "a socket connected from
    127.0.0.1:43210 to 127.0.0.1:5000" tells the learner which one they
    forgot to close. `shown`: the number to say, when `fd` is this process's
    copy of another process's descriptor (the judge's view of the kernel).
    """
    kind = _fd_kind(fd)
    number = fd if shown is None else shown
    if kind != "socket":
        return f"fd {number} ({kind})"
    try:
        # socket(fileno=...) detects family and type from the descriptor.
        dup = socket.socket(fileno=os.dup(fd))
    except OSError:  # pragma: no cover - fd vanished meanwhile
        return f"fd {number} (socket)"
    with dup:
        family = getattr(dup.family, "name", str(dup.family))
        kind = getattr(dup.type, "name", str(dup.type))
        try:
            local = dup.getsockname()
        except OSError:  # pragma: no cover - defensive
            local = "?"
        try:
            remote = dup.getpeername()
        except OSError:
            return f"fd {number} ({family} {kind} socket bound to {local!r})"
        return f"fd {number} ({family} {kind} socket {local!r} -> {remote!r})"


def _summarise_fds(fds) -> str:
    counts: dict = {}
    for fd in fds:
        kind = _fd_kind(fd)
        counts[kind] = counts.get(kind, 0) + 1
    parts = [f"{n} {kind}{'s' if n != 1 else ''}" for kind, n in sorted(counts.items())]
    return ", ".join(parts)


def new_socket_fds(before: set) -> list:
    """Socket descriptors open now that were not in `before`.

    Why sockets only: in a notebook kernel the machinery around the learner's code (IPython's history
    database, the kernel's event loop) opens files and pipes at moments of its own, which would be
    blamed on the learner; what a learner leaks in this course is a socket.
    """
    return sorted(fd for fd in (open_fds() or set()) - before if _fd_kind(fd) == "socket")


@contextlib.contextmanager
def assert_no_fd_leak(what: str = "this code"):
    """Fail if the block leaves new socket descriptors open.

    Why: a leaked socket keeps its port busy and its peer waiting.  The
    AssertionError says how many leaked and what each socket is connected
    to.  A no-op where descriptors cannot be listed (Windows).
    """
    from .learner import judged_kernel

    kernel = judged_kernel()  # in a judge, the learner's sockets live in the kernel: count there too
    in_kernel = kernel.sockets() if kernel is not None else None
    before = open_fds()
    yield
    if in_kernel is not None:
        left = kernel.sockets_left(in_kernel)
        if left:
            n = len(left)
            raise AssertionError(
                f"{what} left {n} socket{'s' if n != 1 else ''} open in the learner's kernel: "
                f"{'; '.join(left[:5])}. Close every socket (a `with` block does it for you).")
    if before is None:
        return
    leaked = new_socket_fds(before)
    if leaked:
        details = "; ".join(describe_fd(fd) for fd in leaked)
        n = len(leaked)
        raise AssertionError(
            f"{what} left {n} file descriptor{'s' if n != 1 else ''} open "
            f"({_summarise_fds(leaked)}): {details}. Close every socket "
            f"(a `with` block does it for you)."
        )


@contextlib.contextmanager
def assert_no_thread_leak(what: str = "this code", grace: float | None = None):
    """Fail if the block leaves new threads running.

    Why: a thread stuck in ``accept`` or ``recv`` outlives the cell that
    started it and keeps sockets alive.  Threads that are already finishing
    get ``grace`` seconds (scaled, default 1 s) to end, waited for with
    ``join`` on a deadline rather than a sleep.
    """
    before = set(threading.enumerate())
    yield
    deadline = Deadline(scaled(1.0) if grace is None else grace)
    alive = []
    for t in threading.enumerate():
        if t in before or t is threading.current_thread():
            continue
        t.join(deadline.remaining())
        if t.is_alive():
            alive.append(t)
    if alive:
        names = ", ".join(repr(t.name) for t in alive)
        raise AssertionError(
            f"{what} left {len(alive)} thread{'s' if len(alive) != 1 else ''} "
            f"running: {names}"
        )


def hard_close(sock) -> None:
    """Shut down and close a socket, ignoring errors; wakes blocked threads.

    Why: on Linux, ``close()`` alone does not wake another thread blocked in
    ``recv`` or ``accept`` on the same socket; ``shutdown(SHUT_RDWR)`` does.
    The harness calls this on sockets it handed to learner code that ran
    past its deadline, so the abandoned thread unblocks and ends.
    """
    if sock is None:
        return
    try:
        if sock.fileno() != -1:
            sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # not connected, already shut down, or a listening socket on macOS
    try:
        sock.close()
    except OSError:  # pragma: no cover - close() errors are rare
        pass


@contextlib.contextmanager
def temp_unix_path(name: str = "s.sock"):
    """Yield a short AF_UNIX socket path inside a fresh private temp dir.

    Why: AF_UNIX paths are limited to about 104 bytes on macOS and must not
    collide between concurrent tests; a private directory removed on exit
    also removes the socket file, which ``close()`` never does.
    """
    tmp = tempfile.mkdtemp(prefix="sc-")
    try:
        yield os.path.join(tmp, name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


class _UnclosedRecord(list):
    """List of ResourceWarning messages recorded by :func:`record_unclosed`."""

    def sockets(self) -> list:
        """Only the warnings about unclosed sockets."""
        return [m for m in self if m.startswith("unclosed <") and "socket" in m.lower()]


@contextlib.contextmanager
def record_unclosed():
    """Record ``ResourceWarning``s ("unclosed <socket ...>") raised in the block.

    Why: when learner code forgets ``close()``, CPython closes the socket
    anyway as soon as the object is garbage, so counting descriptors
    afterwards finds nothing; the only trace is the ResourceWarning it emits.
    Yields a list of warning messages (with ``.sockets()``), filled in on
    exit after a garbage collection.  The warning filters are process-wide,
    so warnings from the learner's thread are caught too.  A judge forwards the
    block to the learner's kernel (faults.forwarded): the warnings raised there
    are recorded there and added to this list.
    """
    from . import faults

    record = _UnclosedRecord()
    # Garbage left by earlier code (an earlier exercise's dropped socket) must not be blamed on this
    # block: collect the young generations now, and keep the collector from running during the block, so
    # the only warnings recorded are for objects dropped here (by reference counting at once, or by the
    # young-generation collection at the end: with the collector off, everything made here stays young).
    # Older garbage is left alone: the collection at the end does not look at it either. (A full
    # collection here took 6 ms in a kernel, for every block: tens of them per notebook, and again in
    # the judge's calls.)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)  # earlier code's leaks are not this block's
        gc.collect(1)
    was_enabled = gc.isenabled()
    gc.disable()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        try:
            with faults.forwarded({"kind": "record_unclosed"}, record.extend):
                yield record
        finally:
            gc.collect(1)
            if was_enabled:
                gc.enable()
            record.extend(str(w.message) for w in caught
                          if issubclass(w.category, ResourceWarning))
