"""Where the learner's code runs, for the checks that look at that process and not only at the wire.

A few checks observe the learner's *process*: the descriptor number a socket has there (section 01's
describe and adopt) and the default socket timeout, which is state of the process (section 05's
default_timeout). In the notebook the learner's functions run in the check's own process, and these
are plain calls (`ThisProcess`). In the judge (course_lib/judge) the learner's functions are proxies
into the learner's kernel; `process_of(fn)` then gives the judge's view of that kernel
(`course_lib.judge.client.KernelProcess`), which answers the same questions from outside where it can
(/proc/<kernel>/fd for descriptor numbers, a socket's flags for its blocking mode) and otherwise asks
the kernel's agent, saying which in its docstrings.

A check asks `where = process_of(fn)` once, then `where.number(sock)` etc., and reads the same in both.
"""
from __future__ import annotations

import contextlib
import socket
from typing import Any, Protocol

__all__ = ["LearnerProcess", "ThisProcess", "judged_kernel", "process_of"]


class LearnerProcess(Protocol):
    """What a check may ask of the process the learner's function runs in."""

    def numbering(self) -> contextlib.AbstractContextManager[Any]:
        """A block in which every call of the learner's functions leaves its descriptor numbers readable."""

    def number(self, sock: socket.socket, said: Any = None) -> int:
        """The number of ``sock``'s descriptor in the learner's process, after the last call given it
        (or returning it): ``said`` if that is one of its numbers there, -1 if it has none."""

    def given_number(self, sock: socket.socket, before: int) -> int:
        """The number ``sock`` had in the learner's process when the last call was given it (``before``:
        its number here, taken just before that call)."""

    def getdefaulttimeout(self) -> float | None:
        """``socket.getdefaulttimeout()`` of the learner's process."""

    def setdefaulttimeout(self, seconds: float | None) -> None:
        """``socket.setdefaulttimeout(seconds)`` in the learner's process."""

    def new_socket_timeout(self) -> float | None:
        """The timeout of a socket newly created (``socket.socket()``) in the learner's process."""

    def threads(self) -> int | None:
        """How many threads the learner's process has now (None where that cannot be read)."""


class ThisProcess:
    """The learner's functions run here (the notebook's kernel, `socket-course check`, the tests)."""

    def numbering(self) -> contextlib.AbstractContextManager[Any]:
        return contextlib.nullcontext()

    def number(self, sock: socket.socket, said: Any = None) -> int:
        return sock.fileno()

    def given_number(self, sock: socket.socket, before: int) -> int:
        return before

    def getdefaulttimeout(self) -> float | None:
        return socket.getdefaulttimeout()

    def setdefaulttimeout(self, seconds: float | None) -> None:
        socket.setdefaulttimeout(seconds)

    def new_socket_timeout(self) -> float | None:
        with socket.socket() as sock:
            return sock.gettimeout()

    def threads(self) -> int | None:
        try:
            import psutil

            return psutil.Process().num_threads()
        except Exception:  # noqa: BLE001 - psutil missing or the platform hides threads
            return None


THIS = ThisProcess()
_JUDGED: Any = None  # the kernel's process while a judge runs the test cells (course_lib.judge.run)


def judged_kernel() -> Any:
    """The kernel a judge is calling into (a `KernelProcess`: `sockets()`, `sockets_left(before)`), or None.

    Set by the judge, whose process runs no learner code; in a notebook it is None, and a learner who sets
    it changes only the notebook's own verdict, which counts only if the judge agrees.
    """
    return _JUDGED


def judge_kernel(process: Any) -> None:
    """The judge says which kernel it calls into (None: none)."""
    global _JUDGED
    _JUDGED = process


def process_of(fn: Any) -> LearnerProcess:
    """The process ``fn`` runs in: the kernel, for a judge's proxy of a learner's function; else this one."""
    where = getattr(type(fn), "learner_process", None)
    return fn.learner_process if isinstance(where, property) else THIS

