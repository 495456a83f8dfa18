"""Faults that loopback never produces by itself, injected into the learner's socket calls.

Why this module exists: on loopback ``send()`` sends everything, the only error a test meets is the
one it provokes, and every errno is Linux's. Learner code that calls ``send`` where ``sendall`` is
needed, catches every error where it should catch one, or compares ``exc.errno`` with 111 passes such
tests by luck (mutation testing, ``benchmarks/mutants.py``, found these survivors class by class).
Each context manager here changes how socket calls behave *for the learner's code only*, for the
duration of one check:

- :func:`short_sends`: every ``send()`` sends at most half of its data (``sendall`` still sends all);
- :func:`inject`: a socket method raises a given error (a refusal, a reset, an unreachable host...),
  so a handler is tried with more than the one kind of error a real peer produces;
- :func:`refuse_family`: creating a socket of a family fails, as on a machine without IPv6;
- :func:`pretend_errnos`: errno numbers as on macOS or Windows (``errno.ECONNREFUSED`` is 61 or
  10061, and the errors the learner's socket calls raise carry those numbers), so a hard-coded Linux
  number fails on the grading machine too;
- :func:`record_sleeps`: the delays passed to ``time.sleep`` (backoff schedules);
- :func:`quick_timeouts`: the timeouts the learner sets expire sooner (and are recorded), so a peer
  that never answers is waited out in a fraction of the time;
- :func:`check_cleans_up`: a call that fails part-way must propagate the error and close what it opened;
- :func:`assert_exact`: equal is not enough: ``1`` is not ``True``.

"The learner's code" is decided per call from the stack: the nearest caller outside the standard
library is either in ``course_lib`` (the harness: its peers and checks are never faulted) or not (the
learner). So ``socket.create_connection`` called by the learner is faulted, the reference server's
``accept`` is not.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import socket
import sys
import time
from types import FrameType
from typing import cast

from . import probes

__all__ = [
    "PLATFORM_ERRNOS",
    "assert_exact",
    "check_cleans_up",
    "forwarded",
    "inject",
    "pretend_errnos",
    "quick_timeouts",
    "record_sleeps",
    "refuse_family",
    "short_sends",
    "to_address",
    "unresponsive_address",
    "watch",
    "watch_timeouts",
]

_ERRORCODE = cast("dict[int, str]", errno.errorcode)  # a dict at run time (typeshed says Mapping)
_COURSE_LIB = os.path.dirname(os.path.abspath(__file__))
_STDLIB = os.path.dirname(os.path.abspath(os.__file__))
_INSTALLED = re.compile(r"[\\/](site|dist)-packages[\\/]")


class Forward:
    """A fault context active in this process, as data a judge can forward to the learner's kernel.

    ``spec`` is None where the fault cannot be described as data (a callable ``when`` or ``look``);
    ``merge(result)`` folds what the kernel saw back into the object the block yielded;
    ``witness(seen)``, where given, receives what the judge saw from outside the kernel during a call, a
    dict: ``attempts``, the TCP connection attempts made in the kernel's own network (its TCP ActiveOpens,
    course_lib.judge.procfs), and where ``knocks`` is set, ``knocks``: the moments those attempts left
    on its loopback (course_lib.judge.wiretap; None where no tap could be opened).
    """

    def __init__(self, spec: dict | None, merge=None, error: BaseException | None = None, state=None,
                 witness=None, knocks: bool = False) -> None:
        self.spec = spec
        self.merge = merge
        self.error = error  # an injected exception: the kernel's copy propagating stands for this one
        self.state = state  # () -> dict: counters as they are now, sent with the spec
        self.witness = witness
        self.knocks = knocks

    def describe(self) -> dict | None:
        if self.spec is None:
            return None
        return {**self.spec, **(self.state() if self.state else {})}


_ACTIVE: list = []  # Forward objects of the fault blocks open in this process, outermost first


def active() -> list:
    """The fault contexts open in this process (the judge forwards them with each call it makes)."""
    return list(_ACTIVE)


@contextlib.contextmanager
def forwarded(spec: dict | None, merge=None, error: BaseException | None = None, state=None, witness=None,
              knocks: bool = False):
    """Mark a fault block as open in this process, as data a judge forwards (see Forward); a fault kind
    defined outside this module (the checks' helpers) is replayed in the kernel by :func:`replay`."""
    forward = Forward(spec, merge, error, state, witness, knocks)
    _ACTIVE.append(forward)
    try:
        yield forward
    finally:
        _ACTIVE.remove(forward)


def called_by_learner(depth: int = 2) -> bool:
    """True if the nearest caller outside the standard library is neither course_lib nor an installed
    package (the kernel's own threads, which sleep and use sockets too, run code from site-packages)."""
    frame: FrameType | None = sys._getframe(depth)
    while frame is not None:
        name = frame.f_code.co_filename
        if name.startswith(_COURSE_LIB) or _INSTALLED.search(name):
            return False
        if not name.startswith(_STDLIB):
            return True
        frame = frame.f_back
    return False


@contextlib.contextmanager
def _override(cls, name: str, value):
    """Set cls.name for the block; afterwards the class has exactly what it had before."""
    had = name in vars(cls)
    old = vars(cls).get(name)
    setattr(cls, name, value)
    try:
        yield
    finally:
        if had:
            setattr(cls, name, old)
        else:
            delattr(cls, name)


@contextlib.contextmanager
def short_sends():
    """Every ``send()`` the learner's code makes sends at most half of its data (at least 1 byte).

    Why: the documentation allows ``send`` to send less than it was given; on loopback it almost
    never does, so ``send`` where ``sendall`` is needed passes every test. Here it always does.
    ``sendall`` (which loops inside the C library) is unaffected. Yields a counter of short sends.
    """
    real = socket.socket.send
    made = [0]

    def send(self, data, flags=0):
        if called_by_learner():
            try:
                view = memoryview(data).cast("B")
            except TypeError:
                return real(self, data, flags)
            if len(view) > 1:
                made[0] += 1
                return real(self, view[:len(view) // 2], flags)
        return real(self, data, flags)

    def merge(result):
        made[0] = result.get("made", made[0])

    with _override(socket.socket, "send", send), \
            forwarded({"kind": "short_sends"}, merge, state=lambda: {"made": made[0]}):
        yield made


class ToAddress:
    """A named ``when`` for :func:`inject`: the calls whose address argument has ``host``, or a port
    in 1..``port_below``-1. Named (data, not a lambda), so a judge can forward the fault to the kernel."""

    def __init__(self, host: str | None = None, port_below: int | None = None) -> None:
        self.host, self.port_below = host, port_below

    @property
    def spec(self) -> dict:
        return {"host": self.host, "port_below": self.port_below}

    def __call__(self, _sock, args) -> bool:
        address = args[0] if args else None
        if not isinstance(address, tuple) or len(address) < 2:
            return False
        if self.host is not None and address[0] != self.host:
            return False
        return self.port_below is None or (isinstance(address[1], int) and 0 < address[1] < self.port_below)


def to_address(host: str | None = None, port_below: int | None = None) -> ToAddress:
    """A ``when`` for :func:`inject` selecting calls to an address with ``host`` / a port below ``port_below``."""
    return ToAddress(host, port_below)


class Injected:
    """What :func:`inject` saw: ``calls`` (the learner's calls of the method) and ``raised``."""

    def __init__(self) -> None:
        self.calls = 0
        self.raised = 0


@contextlib.contextmanager
def inject(method: str, error, *, after: int = 0, times: int | None = None, when=None):
    """Make the learner's ``sock.<method>(...)`` raise ``error``.

    ``error`` is an exception, or a callable ``(sock, args) -> exception``; ``after`` lets that many
    calls through first, ``times`` limits how many calls fail, ``when(sock, args)`` selects calls.
    For ``connect_ex`` an OSError becomes its return value, as the real call does.

    Why: a handler written for one error is only tested by that error unless others are injected:
    ``except Exception`` and ``except OSError`` both pass a test that only ever refuses.
    """
    real = getattr(socket.socket, method)
    seen = Injected()
    exact = isinstance(error, BaseException) and (when is None or isinstance(when, ToAddress))

    def faulty(self, *args, **kwargs):
        if called_by_learner() and (when is None or when(self, args)):
            seen.calls += 1
            if seen.calls > after and (times is None or seen.raised < times):
                seen.raised += 1
                exc = error(self, args) if callable(error) and not isinstance(error, BaseException) else error
                if method == "connect_ex" and isinstance(exc, OSError) and exc.errno is not None:
                    return exc.errno
                raise exc
        return real(self, *args, **kwargs)

    def merge(result):
        seen.calls, seen.raised = result.get("calls", seen.calls), result.get("raised", seen.raised)

    spec = {"kind": "inject", "method": method, "error": error, "after": after, "times": times,
            "when": when.spec if isinstance(when, ToAddress) else None} if exact else None
    with _override(socket.socket, method, faulty), \
            forwarded(spec, merge, error if exact else None, lambda: {"calls": seen.calls, "raised": seen.raised}):
        yield seen


@contextlib.contextmanager
def refuse_family(*families: int, code: int = errno.EAFNOSUPPORT):
    """Creating a socket of one of ``families`` fails with OSError(code), as where it is missing.

    Why: the grading machine has IPv6 and AF_UNIX; a learner's machine may not. Code that should
    skip an address family it cannot create is only tested where creating one fails.
    """
    real = socket.socket.__init__

    def init(self, family=-1, type=-1, proto=-1, fileno=None):
        if fileno is None and family in families and called_by_learner():
            raise OSError(code, os.strerror(code))
        real(self, family, type, proto, fileno)

    with _override(socket.socket, "__init__", init), \
            forwarded({"kind": "refuse_family", "families": [int(f) for f in families], "code": code}):
        yield


#: errno numbers of other platforms for the names socket code meets (CPython's errno module on
#: Windows maps the socket names to the WSA codes: errno.ECONNREFUSED is 10061 there).
PLATFORM_ERRNOS = {
    "darwin": {
        "EAGAIN": 35, "EWOULDBLOCK": 35, "EINPROGRESS": 36, "EALREADY": 37, "ENOTSOCK": 38,
        "EAFNOSUPPORT": 47, "EADDRINUSE": 48, "EADDRNOTAVAIL": 49, "ENETDOWN": 50, "ENETUNREACH": 51,
        "ECONNABORTED": 53, "ECONNRESET": 54, "EISCONN": 56, "ENOTCONN": 57, "ESHUTDOWN": 58,
        "ETIMEDOUT": 60, "ECONNREFUSED": 61, "EHOSTDOWN": 64, "EHOSTUNREACH": 65,
    },
    "win32": {
        "EWOULDBLOCK": 10035, "EINPROGRESS": 10036, "EALREADY": 10037, "ENOTSOCK": 10038,
        "EAFNOSUPPORT": 10047, "EADDRINUSE": 10048, "EADDRNOTAVAIL": 10049, "ENETDOWN": 10050,
        "ENETUNREACH": 10051, "ECONNABORTED": 10053, "ECONNRESET": 10054, "EISCONN": 10056,
        "ENOTCONN": 10057, "ESHUTDOWN": 10058, "ETIMEDOUT": 10060, "ECONNREFUSED": 10061,
        "EHOSTDOWN": 10064, "EHOSTUNREACH": 10065,
    },
}
_WSA_NAMES = {f"WSA{name}": code for name, code in PLATFORM_ERRNOS["win32"].items()}
_PROBE_SETS = {
    "REFUSED_ERRNOS": ("ECONNREFUSED", "WSAECONNREFUSED"),
    "RESET_ERRNOS": ("ECONNRESET", "ECONNABORTED", "EPIPE", "ESHUTDOWN", "WSAECONNRESET",
                     "WSAECONNABORTED", "WSAESHUTDOWN"),
    "UNREACHABLE_ERRNOS": ("ENETUNREACH", "EHOSTUNREACH", "ENETDOWN", "EHOSTDOWN", "WSAENETUNREACH",
                           "WSAEHOSTUNREACH", "WSAENETDOWN", "WSAEHOSTDOWN"),
    "ADDRINUSE_ERRNOS": ("EADDRINUSE", "WSAEADDRINUSE", "WSAEACCES"),
    "TIMEOUT_ERRNOS": ("ETIMEDOUT", "WSAETIMEDOUT"),
    "WOULDBLOCK_ERRNOS": ("EAGAIN", "EWOULDBLOCK", "EINPROGRESS", "EALREADY", "WSAEWOULDBLOCK",
                          "WSAEINPROGRESS", "WSAEALREADY"),
}
_TRANSLATED = ("connect", "connect_ex", "bind", "listen", "accept", "send", "sendall", "sendto",
               "recv", "recv_into", "recvfrom", "shutdown", "getsockopt")  # getsockopt: SO_ERROR's code


@contextlib.contextmanager
def pretend_errnos(platform: str):
    """errno numbers as on ``platform`` ("darwin" or "win32") for the learner's code.

    Inside the block ``errno.ECONNREFUSED`` (and the other socket names) have that platform's values,
    ``course_lib.probes``' errno sets are rebuilt from them, and the errors the learner's socket calls
    raise (and ``connect_ex`` returns) carry the platform's numbers, with the same exception class.

    Why: "compare through errno symbols, never numbers" cannot be tested on the grading machine,
    where the symbol and Linux's number agree; on a pretend Mac they do not.
    """
    table = dict(PLATFORM_ERRNOS[platform])
    if platform == "win32":
        table.update(_WSA_NAMES)
    linux_to_other = {getattr(errno, name): code for name, code in table.items() if hasattr(errno, name)}

    def translate(code):
        return linux_to_other.get(code, code)

    saved_errno = {name: getattr(errno, name, None) for name in table}
    saved_sets = {name: getattr(probes, name) for name in _PROBE_SETS}
    saved_codes = dict(errno.errorcode)
    with contextlib.ExitStack() as stack:
        stack.callback(_restore_errnos, saved_errno, saved_sets, saved_codes)
        for name, code in table.items():
            setattr(errno, name, code)
        _ERRORCODE.clear()
        _ERRORCODE.update({code: name for name, code in table.items()})
        _ERRORCODE.update({code: name for code, name in saved_codes.items() if code not in _ERRORCODE
                           and name not in table})
        for name, names in _PROBE_SETS.items():
            setattr(probes, name, frozenset(getattr(errno, n) for n in names if getattr(errno, n, None)))
        for method in _TRANSLATED:
            real = getattr(socket.socket, method)

            def translated(self, *args, _real=real, _method=method, **kwargs):
                if not called_by_learner():
                    return _real(self, *args, **kwargs)
                try:
                    result = _real(self, *args, **kwargs)
                except OSError as exc:
                    if exc.errno is None or translate(exc.errno) == exc.errno:
                        raise
                    new = type(exc)(translate(exc.errno), exc.strerror)
                    raise new.with_traceback(exc.__traceback__) from None
                if _method == "connect_ex" or (_method == "getsockopt" and isinstance(result, int)
                                               and args[:2] == (socket.SOL_SOCKET, socket.SO_ERROR)):
                    return translate(result)  # (a non-blocking connect's outcome, read after select)
                return result

            stack.enter_context(_override(socket.socket, method, translated))
        stack.enter_context(forwarded({"kind": "pretend_errnos", "platform": platform}))
        yield


def _restore_errnos(saved_errno: dict, saved_sets: dict, saved_codes: dict) -> None:
    for name, value in saved_errno.items():
        if value is None:
            delattr(errno, name)
        else:
            setattr(errno, name, value)
    _ERRORCODE.clear()
    _ERRORCODE.update(saved_codes)
    for name, value in saved_sets.items():
        setattr(probes, name, value)


def _timeout_of(sock):
    return sock.gettimeout()


def type_of(sock):
    """A `look` for watch(): the socket's type (a named look, so a judge outside the kernel can ask for it)."""
    return sock.type


_LOOKS = {"timeout": _timeout_of, "type": type_of}  # what a judge can ask the kernel to record


@contextlib.contextmanager
def watch(*methods: str, look=_timeout_of):
    """Record ``look(sock)`` each time the learner's code calls ``sock.<method>`` for one of ``methods``.

    The default records ``sock.gettimeout()``. Why: a client without a timeout works on loopback,
    where every server answers, and hangs for ever on the first one that does not; whether a timeout
    was set is visible at once, without waiting for it to expire. Likewise the type of the sockets a
    function binds is visible at ``bind``, though it closes them before returning. Yields a list.
    """
    seen: list = []
    with contextlib.ExitStack() as stack:
        for method in methods:
            real = getattr(socket.socket, method)

            def watched(self, *args, _real=real, **kwargs):
                if called_by_learner():
                    seen.append(look(self))
                return _real(self, *args, **kwargs)

            stack.enter_context(_override(socket.socket, method, watched))
        named = next((name for name, fn in _LOOKS.items() if fn is look), None)
        stack.enter_context(forwarded({"kind": "watch", "methods": list(methods), "look": named}
                                       if named else None, seen.extend))
        yield seen


def watch_timeouts(*methods: str):
    """:func:`watch` for timeouts: None in the list means a call that could block for ever."""
    return watch(*methods)


class Sleeps(list):
    """The delays the learner's code slept (a list), and ``knocks``: see :func:`record_sleeps`."""

    def __init__(self) -> None:
        super().__init__()
        self.knocks: list[float] | None = None
        self.witnessed = False


@contextlib.contextmanager
def record_sleeps():
    """Record the seconds the learner's code passes to ``time.sleep`` (it still sleeps).

    Why: a backoff schedule ("double the delay each time") is a promise about the delays; counting
    attempts within a time budget cannot tell doubling from tripling, the delays can. Yields a list
    (:class:`Sleeps`); in a judge, its ``knocks`` are the moments the connection attempts made during
    the block left on the kernel's loopback, seen from outside (None where they cannot be).
    """
    real = time.sleep  # noqa: TID251 - sleep-ok: recorded and passed through, not a delay of ours

    def sleep(seconds):
        if called_by_learner():
            delays.append(seconds)
        real(seconds)

    def witness(seen: dict) -> None:
        knocks = seen.get("knocks")
        if knocks is None:
            delays.knocks = None
        elif delays.knocks is not None or not delays.witnessed:
            delays.knocks = [*(delays.knocks or []), *knocks]
        delays.witnessed = True

    delays = Sleeps()
    time.sleep = sleep  # noqa: TID251 - sleep-ok: the learner's own sleeps are recorded
    try:
        with forwarded({"kind": "record_sleeps"}, delays.extend, witness=witness, knocks=True):
            yield delays
    finally:
        time.sleep = real  # noqa: TID251 - sleep-ok: restored


@contextlib.contextmanager
def quick_timeouts(factor: float = 10.0):
    """The timeouts the learner's code sets expire ``factor`` times sooner; yields the seconds it asked for.

    Covers ``sock.settimeout`` (and so ``socket.create_connection(..., timeout)``) and
    ``socket.setdefaulttimeout``; a timeout of 0 or None is passed through. Why: whether a client
    gives up on a peer that never answers is only seen by waiting for its timeout, and the exercises
    ask for a second, waited out twice per graded notebook (its cells, then the judge). An answer that
    waits some other way (``select``) is not sped up. What the checks conclude, from the clock, is
    checks.drivers._waits_out_silence's business; the list only words a failure.
    """
    asked: list = []
    real = socket.socket.settimeout
    real_default = socket.setdefaulttimeout
    default_asked: list = []

    def quicker(value):
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
            asked.append(float(value))
            return value / factor
        return value

    def settimeout(self, value):
        return real(self, quicker(value) if called_by_learner() else value)

    def setdefaulttimeout(value):
        if called_by_learner():
            default_asked.append(value)
            value = quicker(value)
        return real_default(value)

    socket.setdefaulttimeout = setdefaulttimeout
    try:
        with _override(socket.socket, "settimeout", settimeout), \
                forwarded({"kind": "quick_timeouts", "factor": factor}, asked.extend):
            yield asked
    finally:
        socket.setdefaulttimeout = real_default
        if default_asked:  # the learner's default outlives the check: leave it as they asked
            real_default(default_asked[-1])


@contextlib.contextmanager
def replay(specs: list):
    """Open, in this process, the fault blocks a judge forwarded (course_lib.judge.agent).

    ``specs`` are Forward.spec dicts, an injected error already rebuilt as an exception. Yields a
    list of functions; after the block each returns what its fault saw, for the judge's ``merge``.
    """
    results: list = []
    with contextlib.ExitStack() as stack:
        for spec in specs:
            kind = spec.get("kind")
            if kind == "short_sends":
                made = stack.enter_context(short_sends())
                made[0] = spec.get("made", 0)
                results.append(lambda made=made: {"made": made[0]})
            elif kind == "inject":
                when = spec.get("when")
                seen = stack.enter_context(inject(spec["method"], spec["error"], after=spec.get("after", 0),
                                                  times=spec.get("times"),
                                                  when=ToAddress(**when) if isinstance(when, dict) else None))
                seen.calls, seen.raised = spec.get("calls", 0), spec.get("raised", 0)
                results.append(lambda seen=seen: {"calls": seen.calls, "raised": seen.raised})
            elif kind == "refuse_family":
                stack.enter_context(refuse_family(*spec["families"], code=spec["code"]))
                results.append(lambda: None)
            elif kind == "pretend_errnos":
                stack.enter_context(pretend_errnos(spec["platform"]))
                results.append(lambda: None)
            elif kind == "watch":
                seen_list = stack.enter_context(watch(*spec["methods"], look=_LOOKS[spec["look"]]))
                results.append(lambda seen_list=seen_list: list(seen_list))
            elif kind == "record_sleeps":
                delays = stack.enter_context(record_sleeps())
                results.append(lambda delays=delays: list(delays))
            elif kind == "quick_timeouts":
                asked = stack.enter_context(quick_timeouts(float(spec["factor"])))
                results.append(lambda asked=asked: list(asked))
            elif kind in _CHECKS_FAULTS:
                results.append(_CHECKS_FAULTS[kind](stack, spec))
            else:
                raise ValueError(f"unknown fault {kind!r}")
        yield results


def _replay_connect_attempts(stack: contextlib.ExitStack, spec: dict):
    from .checks.provoke import count_connect_attempts

    counter = stack.enter_context(count_connect_attempts())
    counter.attempts = spec.get("attempts", 0)
    return lambda: {"attempts": counter.attempts, "addresses": list(counter.addresses)}


def _replay_platform(stack: contextlib.ExitStack, spec: dict):
    from .checks.constants import pretend_platform

    stack.enter_context(pretend_platform(*spec["missing"], **spec["overrides"]))
    return lambda: None


def _replay_getaddrinfo(stack: contextlib.ExitStack, spec: dict):
    from .checks.utilities import fake_getaddrinfo

    calls = stack.enter_context(fake_getaddrinfo(spec["entries"]))
    return lambda: list(calls)


def _replay_unclosed(stack: contextlib.ExitStack, spec: dict):
    from .resources import record_unclosed

    record = stack.enter_context(record_unclosed())
    return lambda: [str(m)[:500] for m in record[:20]]


def _replay_selectors(stack: contextlib.ExitStack, spec: dict):
    from .checks.watching import _SelectorWatch

    watch = stack.enter_context(_SelectorWatch(bool(spec.get("echo"))).active())
    return watch.seen


#: faults defined by the checks' helpers (course_lib.checks, .resources), replayed in the kernel: kind -> opener
_CHECKS_FAULTS = {"count_connect_attempts": _replay_connect_attempts, "pretend_platform": _replay_platform,
                  "fake_getaddrinfo": _replay_getaddrinfo, "watch_selectors": _replay_selectors,
                  "record_unclosed": _replay_unclosed}


def assert_exact(got, want, what: str) -> None:
    """``got == want`` *and* the same types all the way down (lists, tuples, dicts): 1 is not True.

    Why: ``1 == True`` and ``{"on": 1} == {"on": True}``, so an equality test lets a function
    return the raw number where the task asks for a bool.
    """
    def same(a, b) -> bool:
        if type(a) is not type(b):
            return False
        if isinstance(a, dict):
            return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
        if isinstance(a, (list, tuple)):
            return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
        return a == b

    if not same(got, want):
        raise AssertionError(f"{what}: expected {want!r}, got {got!r}"
                             + (" (equal, but of other types: return exactly these types)"
                                if got == want else ""))


def check_cleans_up(fn, *args, method: str, error: OSError, what: str, **kwargs):
    """Run ``fn(*args)`` while the learner's ``sock.<method>`` fails with ``error``.

    The error must propagate (the same exception, not swallowed, not replaced) and no socket may be
    left open or left for the garbage collector. Why: error paths are where ``close()`` is forgotten,
    and on loopback they never run unless a failure is injected.
    """
    from .resources import assert_no_fd_leak, record_unclosed

    with record_unclosed() as unclosed, assert_no_fd_leak(what), inject(method, error, **kwargs) as seen:
        try:
            got = fn(*args)
        except OSError as exc:
            # drop the learner's frames now, so a socket they still hold is closed (and reported) here
            exc.__traceback__ = error.__traceback__ = None
            if exc is not error and exc.errno != error.errno:
                raise AssertionError(f"{what}: when {method}() failed with {error!r}, it raised "
                                     f"{exc!r} instead of letting that error propagate") from None
        else:
            with contextlib.suppress(Exception):
                if isinstance(got, tuple):
                    for item in got:
                        if isinstance(item, socket.socket):
                            item.close()
                elif isinstance(got, socket.socket):
                    got.close()
            raise AssertionError(f"{what}: {method}() failed with {error!r}, but it returned "
                                 f"{got!r} instead of letting the error propagate")
    if not seen.raised:
        raise AssertionError(f"{what} never called {method}()")
    dropped = unclosed.sockets()
    if dropped:
        raise AssertionError(f"{what}: when {method}() failed it left the socket for the garbage "
                             f"collector to close ({dropped[0]}); close it before re-raising "
                             f"(`with`, or try/except that closes and re-raises)")


@contextlib.contextmanager
def unresponsive_address():
    """A loopback (host, port) where connect() is neither accepted nor refused, so it times out.

    A listener with a backlog of 0 whose queue is already full: Linux then drops further SYNs, so
    a connect waits (``connect_ex`` with a timeout returns EAGAIN, ``connect`` raises TimeoutError).
    Yields None where the platform refuses or accepts instead (the caller skips that case).

    Why: only a peer that does not answer shows whether a timeout is set before ``connect``;
    loopback answers at once, refused or accepted.
    """
    waits = probes.WOULDBLOCK_ERRNOS | probes.TIMEOUT_ERRNOS
    fillers: list = []
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        address = listener.getsockname()
        try:
            code = 0
            for _ in range(8):
                filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                fillers.append(filler)
                filler.settimeout(0.05)
                code = filler.connect_ex(address)
                if code != 0:
                    break
            yield address if code in waits else None
        finally:
            for filler in fillers:
                filler.close()
