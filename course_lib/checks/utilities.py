"""Helpers for section 05 (module-level utility functions).

Why this module exists: the utilities notebook must never depend on DNS, on a
particular host name, or on files a minimal container may lack
(/etc/services, /etc/protocols).  The helpers here make those lookups bounded
and replaceable so that examples always finish quickly and tests are
deterministic:

* :func:`bounded_call` runs a lookup that may be slow on some machines
  (reverse lookups such as ``gethostbyaddr``/``getfqdn``) in a daemon thread
  and gives up after a short deadline instead of hanging the kernel.
* :func:`fake_getaddrinfo` swaps ``socket.getaddrinfo`` for a scripted
  resolver, so a test can check ordering and de-duplication with IPv6 and
  IPv4 answers on any machine (even one whose ``localhost`` has one address).
* :data:`RECORD_HEADER`, :func:`pack_record` and :func:`check_recv_record`
  define and check the small binary record format used by the framing
  exercise, against the shared reference peers, so a failure shows the bytes
  on the wire.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from typing import Any, Callable, NamedTuple

from ..timing import DEFAULT_DEADLINE, scaled

__all__ = [
    "Outcome",
    "bounded_call",
    "fake_getaddrinfo",
    "RECORD_HEADER",
    "pack_record",
    "check_recv_record",
    "exception_name",
]


class Outcome(NamedTuple):
    """What a bounded call produced: ``status`` is "ok", "error" or "timeout"."""

    status: str
    value: Any

    def describe(self) -> str:
        if self.status == "ok":
            return repr(self.value)
        if self.status == "error":
            return f"{type(self.value).__name__}: {self.value}"
        return f"no answer within {self.value:g} s"


def bounded_call(fn: Callable, *args: Any, seconds: float | None = None) -> Outcome:
    """Call ``fn(*args)`` in a daemon thread; give up after ``seconds``.

    Why: reverse lookups (``gethostbyaddr``, ``getfqdn``) may consult DNS
    and take many seconds on a machine with a misconfigured resolver, and
    they cannot be cancelled.  Running them in a daemon thread bounds the
    wait; a lookup that answers late finishes harmlessly in the background.
    Never raises: the exception, if any, is returned in the outcome.
    """
    limit = scaled(0.5) if seconds is None else seconds
    box: list = []

    def target() -> None:
        try:
            box.append(Outcome("ok", fn(*args)))
        except Exception as exc:  # noqa: BLE001 - reported, not swallowed
            box.append(Outcome("error", exc))

    worker = threading.Thread(target=target, name=f"bounded-{getattr(fn, '__name__', 'call')}",
                              daemon=True)
    worker.start()
    worker.join(limit)
    return box[0] if box else Outcome("timeout", limit)


@contextlib.contextmanager
def fake_getaddrinfo(entries):
    """Temporarily replace ``socket.getaddrinfo`` with a scripted resolver.

    ``entries`` is the list of 5-tuples ``(family, type, proto, canonname,
    sockaddr)`` the fake "resolves" every host to.  Like the real function,
    the fake honours the ``family`` and ``type`` filters (0 means any), and
    it fills the requested port into each sockaddr.  Yields the list of
    calls made (each a dict of the arguments), so a test can check the
    learner really asked the resolver.

    Why: a host's real answers depend on /etc/hosts and on whether IPv6 is
    configured; a test of "keeps the resolver's order, drops duplicates"
    needs a mixed, duplicated answer on every machine.
    """
    real = socket.getaddrinfo
    calls: list = []

    def fake(host, port, family=0, type=0, proto=0, flags=0):  # noqa: A002 - mirrors socket API
        calls.append(dict(host=host, port=port, family=family, type=type, proto=proto,
                          flags=flags))
        if isinstance(port, str):
            port = int(port) if port.isdigit() else real(None, port)[0][4][1]
        port = 0 if port is None else port
        out = []
        for fam, kind, pro, canon, addr in entries:
            if family and fam != family:
                continue
            if type and kind != type:
                continue
            out.append((fam, kind, pro, canon, (addr[0], port) + tuple(addr[2:])))
        if not out:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known (fake resolver)")
        return out

    socket.getaddrinfo = fake
    try:
        yield calls
    finally:
        socket.getaddrinfo = real


#: The record format of the framing exercise: a 2-byte unsigned record kind
#: and a 4-byte unsigned payload length, both in network byte order ("!"),
#: followed by the payload bytes.
RECORD_HEADER = struct.Struct("!HI")


def pack_record(kind: int, payload: bytes) -> bytes:
    """Return one record: header (kind, len(payload)) in network order, then payload."""
    return RECORD_HEADER.pack(kind, len(payload)) + payload


def _short(data: bytes, limit: int = 60) -> str:
    if len(data) <= limit:
        return repr(data)
    return f"{data[:limit]!r}... ({len(data)} bytes)"


def check_recv_record(recv_record: Callable, stream: bytes, expected: list, *,
                      chunk: int = 1, cut: int | None = None,
                      deadline: float | None = None) -> None:
    """Serve ``stream`` from a reference peer and call ``recv_record`` once per expected item.

    The peer is ``dribble_server(stream, chunk)`` (sends ``chunk`` bytes at a
    time, then closes) or, when ``cut`` is given,
    ``close_midway_server(stream, cut)`` (sends the first ``cut`` bytes, then
    closes).  ``expected`` lists what successive calls must produce: a
    ``(kind, payload)`` tuple, ``None`` (clean end of stream), or an
    exception class the call must raise.

    Why: a framing bug (one ``recv`` too few, the wrong byte order, ignoring
    end of stream) only shows up when bytes arrive in pieces or stop early;
    the reference peers make both happen deterministically, and the failure
    message shows what was sent.
    """
    from ..peers import close_midway_server, dribble_server
    from ..runners import run_with_deadline

    limit = DEFAULT_DEADLINE if deadline is None else deadline
    server = (dribble_server(stream, chunk=chunk) if cut is None
              else close_midway_server(stream, cut))
    how = (f"the peer sends {len(stream)} bytes all at once, then closes"
           if cut is None and chunk >= len(stream) else
           f"the peer sends {len(stream)} bytes in pieces of {chunk} byte(s), then closes"
           if cut is None else
           f"the peer sends {cut} of the {len(stream)} bytes {_short(stream)}, then closes")
    with server as peer:
        with socket.create_connection(peer.address, timeout=limit) as sock:
            for number, want in enumerate(expected, start=1):
                problem = _one_call(run_with_deadline, recv_record, sock, want, limit)
                if problem:
                    raise AssertionError(
                        f"recv_record, call {number} ({how}): {problem}\n"
                        f"What crossed the wire:\n{peer.transcript.format()}")


def _one_call(run_with_deadline, recv_record, sock, want, limit) -> str | None:
    """Run one learner call; return a description of what went wrong, or None."""
    raises = isinstance(want, type) and issubclass(want, BaseException)
    try:
        got = run_with_deadline(recv_record, sock, deadline=limit, what="recv_record")
    except AssertionError as exc:  # LearnerTimeout: the call never returned
        return str(exc)
    except NotImplementedError:  # the blank stub: "not written yet", said in one line
        raise
    except Exception as exc:  # noqa: BLE001 - reported to the learner
        if raises and isinstance(exc, want):
            return None
        wanted = want.__name__ if raises else _shown(want)
        return f"expected {wanted}, but it raised {exception_name(exc)}: {exc}"
    if raises:
        return (f"expected {want.__name__} because the stream ended in the middle of a record, "
                f"but it returned {_shown(got)}")
    if got is not None and not (isinstance(got, tuple) and len(got) == 2):
        return f"expected a (kind, payload) tuple or None, got {_shown(got)}"
    if got != want:
        return f"expected {_shown(want)}, got {_shown(got)}"
    return None


def _shown(value) -> str:
    """Render a (kind, payload) result for messages, shortening long payloads."""
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], (bytes, bytearray)):
        payload = bytes(value[1])
        if len(payload) > 40:
            return f"({value[0]!r}, {payload[:20]!r}...({len(payload)} bytes))"
    return repr(value)


def exception_name(exc: BaseException) -> str:
    """``ValueError`` for built-ins, ``struct.error`` for module exceptions.

    Why: ``type(exc).__name__`` of ``struct.error`` is just "error", which
    tells a learner nothing.
    """
    cls = type(exc)
    if cls.__module__ in ("builtins", "__main__"):
        return cls.__qualname__
    return f"{cls.__module__}.{cls.__qualname__}"
