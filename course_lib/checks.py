"""High-level checks that notebook test cells call on learner code.

Why this module exists: a notebook test cell should be one line, and that
line should run a whole scenario, edge cases included, the way trio's
``check_one_way_stream`` does for a stream factory.  Each check takes the
learner's callable, drives it against a reference peer (or a reference
client) on loopback, and on failure raises ``AssertionError`` with what was
expected, what happened, and the transcript of bytes each side sent.

Every check accepts ``edge_cases`` (False: the basic scenario, for the
visible test cell; True, the default: the basic scenario plus the edge
cases, for the hidden cell) and ``deadline`` (seconds per learner call,
default :data:`course_lib.timing.DEFAULT_DEADLINE`).  Checks return None
(``check_dualstack_server`` returns False when skipped).
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import re
import select
import socket
import struct
import tempfile
import time

from . import exchange, faults, peers, probes
from .failures import CheckFailure
from .endpoint import Endpoint, PeerStopped, WaitTimeout, Waker, connect, udp_client
from .probes import ADDRINUSE_ERRNOS, REFUSAL_DELAY, dualstack_available, errno_name, skip_unless
from .resources import hard_close, record_unclosed
from .runners import (LearnerCall, LearnerTimeout, harness_listener, run_client,
                      run_server, run_with_deadline, shape)
from .timing import DEFAULT_DEADLINE, Deadline, scaled
from .transcript import Transcript, abbreviate

__all__ = [
    "check_start_server",
    "check_echo_server",
    "check_timestamp_server",
    "check_sequential_server",
    "check_concurrent_server",
    "check_udp_echo_server",
    "check_reuseaddr_listener",
    "check_dualstack_server",
    "check_fetch_all",
    "check_request",
    "check_probe",
    "check_fetch_with_timeout",
    "check_framing",
    "check_send_msg",
    "check_recv_msg",
    "check_line_client",
    "check_recv_exactly",
    "check_udp_client",
    "check_sendfile",
    "MIB",
    "UTF8_TEXT",
]

MIB = 1 << 20
#: Multi-byte UTF-8 sample: characters of 2, 3 and 4 bytes.
UTF8_TEXT = "héllo wörld ✓ 你好 🌏"
_BIG = bytes(range(256)) * (MIB // 256)  # 1 MiB, every byte value, no long runs


def _seconds(deadline: float | None) -> float:
    return DEFAULT_DEADLINE if deadline is None else deadline


def _patience(deadline: float | None) -> float:
    """How long a reference peer waits: longer than the learner's deadline,
    so that a stuck learner is caught by its deadline (with the right
    message) rather than by the peer giving up first."""
    return 2 * _seconds(deadline) + scaled(0.5)


# -- failure messages ------------------------------------------------------

def _fail(happened: str, *, expected=None, got=None, hint: str | None = None,
          transcript: Transcript | None = None) -> AssertionError:
    """Build the AssertionError every check raises: what, expected, got, hint, the exchange."""
    return CheckFailure(happened, expected=expected, got=got, hint=hint, transcript=transcript)


_SENDALL_HINT = ("send() may send only part of the data (it returns how many bytes it sent, and "
                 "the rest is never sent); use sendall()")


def _show(value) -> str:
    if isinstance(value, (bytes, bytearray, memoryview)):
        n = len(value)
        return f"{abbreviate(value, 40)} ({n} byte{'s' if n != 1 else ''})"
    return f"{value!r} ({type(value).__name__})"


def _explain(exc: BaseException, what: str, transcript: Transcript | None = None) -> BaseException:
    """Translate a learner's exception into a message about the socket mistake behind it.

    NotImplementedError (the blank stub) and AssertionErrors pass through
    unchanged; everything else becomes an AssertionError chained to it.
    """
    if isinstance(exc, (NotImplementedError, AssertionError)):
        return exc
    text = str(exc)
    if isinstance(exc, TypeError) and "str" in text and ("bytes" in text or "buffer" in text):
        hint = ("send() needs bytes, not str: encode text first (e.g. reply.encode()) and "
                "build replies from bytes (b'[' + ... )")
        return _fail(f"{what} raised TypeError: {text}", hint=hint, transcript=transcript)
    hints = {
        ConnectionRefusedError: "the connection was refused: nothing was listening there",
        BrokenPipeError: "it wrote to a connection the other side had already closed",
        ConnectionResetError: "the other side reset the connection",
        socket.timeout: "one of its socket operations timed out",
    }
    hint = next((h for cls, h in hints.items() if isinstance(exc, cls)), None)
    if isinstance(exc, ValueError) and "binary mode" in text:
        hint = "open the file in binary mode: open(path, 'rb')"
    if isinstance(exc, OSError) and exc.errno is not None and hint is None:
        hint = f"the operating system reported {errno_name(exc.errno)}"
    new = _fail(f"{what} raised {type(exc).__name__}: {text}", hint=hint, transcript=transcript)
    new.__cause__ = exc
    return new


def _call(fn, *args, what: str, deadline=None, transcript=None, peer=None,
          expected=None, hint=None):
    """Run learner code with a deadline, turning its exceptions into friendly failures."""
    try:
        if peer is not None:
            return run_client(fn, *args, peer=peer, deadline=_seconds(deadline), what=what,
                              expected=expected, hint=hint)
        return run_with_deadline(fn, *args, deadline=_seconds(deadline), what=what,
                                 transcript=transcript, expected=expected, hint=hint)
    except LearnerTimeout:
        raise
    except BaseException as exc:
        raise _explain(exc, what, peer.transcript if peer is not None else transcript) from exc


def _serve(server_fn, script, *args, what: str, deadline=None, expected=None, hint=None,
           transcript=None, listener=None, **kw):
    """run_server, with learner exceptions explained and client trouble described."""
    transcript = Transcript() if transcript is None else transcript
    if listener is None:
        listener = harness_listener(backlog=max(16, kw.pop("backlog", 16)), **kw)
    try:
        return run_server(server_fn, script, *args, deadline=_seconds(deadline), what=what,
                          expected=expected, hint=hint, transcript=transcript, listener=listener)
    except (LearnerTimeout, NotImplementedError):
        raise
    except AssertionError as exc:
        if listener.finished_before(exc) and listener.learner_error is None:
            if listener.orphans:  # the real reason the client was cut off
                raise _unjoined(what, listener.orphans, transcript) from exc
            first, _, rest = str(exc).partition("\n")
            raise AssertionError(f"{first}\nNote: {what} had already returned, after accepting "
                                 f"{len(listener.accepted)} connection(s).\n{rest}"
                                 ) from exc.__cause__
        raise
    except BaseException as exc:
        if exc is listener.learner_error or not isinstance(exc, (WaitTimeout, EOFError, OSError)):
            raise _explain(exc, what, transcript) from exc
        if sum(c.short_sends_made for c in listener.accepted):
            hint = _SENDALL_HINT
        if listener.finished_before(exc):
            if listener.orphans:
                raise _unjoined(what, listener.orphans, transcript) from exc
            happened = (f"{what} returned (after accepting {len(listener.accepted)} "
                        f"connection(s)) before the client was served; the client then saw: "
                        f"{exc}")
        else:
            happened = f"the reference client gave up: {exc}"
        raise _fail(happened, expected=expected, hint=hint, transcript=transcript) from exc


def _unjoined(what: str, orphans: int, transcript: Transcript) -> AssertionError:
    return _fail(f"{what} returned before the {orphans} thread(s) it started had finished: "
                 f"they were still serving their clients, and a server's connections end when "
                 f"the function returns.",
                 hint="keep the Thread objects in a list and join each one before returning: "
                      "for t in threads: t.join()", transcript=transcript)


def _check_closed_all(run, what: str, transcript: Transcript) -> None:
    if run.orphans:
        raise _unjoined(what, run.orphans, transcript)
    if run.unclosed:
        raise _fail(f"{what} returned without closing {run.unclosed} connection socket(s) "
                    f"it got from accept().",
                    hint="close each connection when you are done with it (`with conn:` does it)",
                    transcript=transcript)


def _closes_its_socket(unclosed, what: str, transcript: Transcript | None = None) -> None:
    sockets = unclosed.sockets()
    if sockets:
        raise _fail(f"{what} left {len(sockets)} socket(s) for the garbage collector to close: "
                    + "; ".join(sockets[:3]),
                    hint="close every socket you open, on every path (use `with`)",
                    transcript=transcript)


def _timeout_required(what: str, *methods: str):
    """Decorate a client check: with edge cases, the learner's socket must have a timeout when it waits.

    Checked after the check's own scenario passed (a wrong reply is the bigger news); a client with
    no timeout hangs for ever on the first server that does not answer.
    """
    def decorate(check):
        @functools.wraps(check)
        def checked(fn, *args, edge_cases: bool = True, **kwargs):
            if not edge_cases:
                return check(fn, *args, edge_cases=edge_cases, **kwargs)
            with faults.watch_timeouts(*methods) as seen:
                result = check(fn, *args, edge_cases=edge_cases, **kwargs)
            if None in seen:
                raise _fail(f"{what} waited on a socket without a timeout: against a server that never "
                            f"answers it would wait for ever.",
                            hint="socket.create_connection(address, timeout=2.0), or sock.settimeout(2.0) "
                                 "before connecting")
            return result
        return checked
    return decorate


def _expect_bytes(value, what: str) -> None:
    if isinstance(value, str):
        raise _fail(f"{what} returned a str; sockets carry bytes.", got=_show(value),
                    hint="return the bytes you received (do not decode them)")
    if not isinstance(value, (bytes, bytearray)):
        raise _fail(f"{what} should return bytes.", got=_show(value))


# -- servers -------------------------------------------------------------------

def check_start_server(start_server, *, edge_cases: bool = True, deadline: float | None = None) -> None:
    """``start_server() -> (listening_socket, port)`` on 127.0.0.1, port 0.

    Edge cases: two servers at once (both calls must work, on distinct ports),
    which catches a fixed port number; bind() and then listen() failing (the
    error must propagate and no socket may be left open).
    """
    what = "start_server()"
    socks = []
    try:
        for attempt in range(2 if edge_cases else 1):
            try:
                result = _call(start_server, what=what, deadline=deadline)
            except AssertionError as exc:
                cause = exc.__cause__
                if attempt and isinstance(cause, OSError) and cause.errno in ADDRINUSE_ERRNOS:
                    raise _fail(f"calling {what} a second time, while the first server was still "
                                f"open, failed with {errno_name(cause.errno)}.",
                                hint="bind to port 0 so the operating system picks a free port, "
                                     "then read it back with getsockname()[1]") from cause
                raise
            if isinstance(result, socket.socket):
                socks.append(result)
                raise _fail(f"{what} returned only the socket.",
                            expected="a tuple (listening_socket, port)", got=repr(result))
            if not (isinstance(result, tuple) and len(result) == 2):
                raise _fail(f"{what} should return a tuple (listening_socket, port).",
                            got=repr(result))
            sock, port = result
            if isinstance(sock, socket.socket):
                socks.append(sock)
            else:
                raise _fail(f"the first item {what} returned is not a socket.", got=repr(sock))
            if sock.family != socket.AF_INET or sock.type != socket.SOCK_STREAM:
                raise _fail(f"{what} returned a {sock.family!r}/{sock.type!r} socket.",
                            expected="an AF_INET, SOCK_STREAM (TCP) socket")
            host, real_port = sock.getsockname()
            if host != "127.0.0.1":
                raise _fail(f"the server is bound to {host!r}.", expected="'127.0.0.1' (loopback)",
                            hint="bind to ('127.0.0.1', 0): only this machine can connect, and "
                                 "'' or '0.0.0.0' would expose the server to the network")
            if port != real_port:
                raise _fail(f"{what} returned port {port!r}, but the socket is bound to port "
                            f"{real_port}.",
                            hint="port 0 asks the OS to choose; read the real port from "
                                 "sock.getsockname()[1] after bind()")
            listening = (sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
                         if hasattr(socket, "SO_ACCEPTCONN") else None)
            try:
                socket.create_connection(("127.0.0.1", real_port), timeout=_patience(deadline)).close()
            except OSError as exc:
                raise _fail(f"connecting to the server on port {real_port} failed: {exc!r}.",
                            hint="call listen() after bind()") from exc
            if listening == 0:  # pragma: no cover - the connect above fails first
                raise _fail("the socket is not listening.", hint="call listen() after bind()")
        if len(socks) == 2 and socks[0].getsockname()[1] == socks[1].getsockname()[1]:
            raise _fail(f"two servers from {what} share port {socks[0].getsockname()[1]}.",
                        hint="bind to port 0 so each server gets its own free port")
    finally:
        for s in socks:
            hard_close(s)
    if edge_cases:
        _check_error_paths(start_server, what=what)


def _check_error_paths(fn, *args, what: str) -> None:
    """bind() and listen() failing, with two kinds of error: the error propagates, nothing leaks."""
    for method, code in (("bind", errno.EADDRINUSE), ("listen", errno.EACCES)):
        faults.check_cleans_up(fn, *args, method=method, error=OSError(code, os.strerror(code)),
                               what=f"{what} (when {method}() fails with {errno_name(code)})")


def _echo_script(messages, *, chunk: int | None = None, whole: bool = False):
    """Client for echo servers: round-trip each message, half-close, expect EOF."""
    def script(address, transcript, deadline):
        with connect(address, transcript, deadline=deadline) as ep:
            sent = 0
            for i, msg in enumerate(messages):
                if whole:  # half-close once sent, so a server that lost bytes ends at once
                    got = ep.exchange(msg, len(msg), shutdown=True)
                elif chunk:
                    got = b""
                    for k in range(0, len(msg), chunk):
                        ep.sendall(msg[k:k + chunk])
                        got += _recv_exactly_or_less(ep, len(msg[k:k + chunk]))
                else:
                    ep.sendall(msg)
                    got = _recv_exactly_or_less(ep, len(msg))
                if got != msg:
                    _echo_mismatch(i, msg, got, sent, ep, transcript)
                sent += len(msg)
            if not whole:
                ep.shutdown_wr()
            tail = ep.recv_until_eof(what="the server to close after the client finished")
            if tail:
                raise _fail("after the client finished, the server sent extra bytes.",
                            got=_show(tail), transcript=transcript)
    return script


def _recv_exactly_or_less(ep: Endpoint, n: int) -> bytes:
    out = bytearray()
    while len(out) < n:
        try:
            chunk = ep.recv(n - len(out), what=f"the echo ({n - len(out)} more bytes)")
        except ConnectionError:  # the server closed with our bytes unread: a reset
            chunk = b""
            ep.eof = True
        if not chunk:
            break
        out += chunk
    return bytes(out)


def _echo_mismatch(i, msg, got, sent_before, ep, transcript):
    if len(got) < len(msg) and ep.eof:
        if i > 0 and not got:
            hint = ("it seems to call recv() only once; loop until recv() returns b'' "
                    "(the client closed), echoing each chunk")
        else:
            hint = ("either it stopped calling recv() too early (loop until recv() returns "
                    "b''), or it used send(), which may send only part of the data: use "
                    "sendall()")
        happened = (f"the server closed the connection after echoing {len(got)} of the "
                    f"{len(msg)} bytes of message {i + 1}.")
    else:
        hint = "echo exactly the bytes you receive, in order, nothing more"
        happened = f"the echo of message {i + 1} was wrong."
    raise _fail(happened, expected=_show(msg), got=_show(got), hint=hint, transcript=transcript)


def _cut_short(msg: bytes, got: bytes) -> bool:
    """True if ``got`` is a non-empty start of ``msg``, shorter than it."""
    return 0 < len(got) < len(msg) and msg.startswith(got)


def _echoed(listener, k: int) -> int:
    """How many bytes the learner's code sent on the k-th connection it accepted.

    Why: a server that closes with unread bytes resets the connection, and a
    reset can discard the echo before the reference client reads it.
    """
    accepted = listener.accepted
    return accepted[k].bytes_sent if k < len(accepted) else 0


def _partial_echo(side: str, msg: bytes, got: bytes, transcript: Transcript,
                  echoed: int = 0) -> AssertionError:
    """A server echoed the start of a client's bytes, then closed the connection."""
    n = max(len(got), echoed)
    lost = (f" (the reset discarded {n - len(got)} of them before {side} could read them)"
            if n > len(got) else "")
    return _fail(f"the server echoed {n} of the {len(msg)} bytes {side} sent, then closed "
                 f"the connection{lost}.",
                 expected=_show(msg), got=_show(got),
                 hint="a large upload arrives in many pieces and one recv() returns only the "
                      "first; keep calling recv() (and sendall() each piece) until recv() "
                      "returns b'' (the client closed)", transcript=transcript)


_UPLOAD = _BIG[:256 * 1024]


def _check_large_upload(server_fn, n_arg, what: str, deadline) -> None:
    """One client uploads 256 KiB while reading the echo, half-closes, reads until EOF."""
    listener = harness_listener(short_sends=True)

    def script(address, transcript, dl):
        side = "client"
        try:
            with connect(address, transcript, side, deadline=dl) as ep:
                got = ep.exchange(_UPLOAD, len(_UPLOAD), shutdown=True)
                got += ep.recv_until_eof(what="the server to close after the echo")
        except (OSError, EOFError) as exc:  # e.g. reset: it closed with upload bytes unread
            got, echoed = transcript.received_by(side), _echoed(listener, 0)
            if _cut_short(_UPLOAD, got) or 0 < echoed < len(_UPLOAD):
                raise _partial_echo(side, _UPLOAD, got, transcript, echoed) from exc
            raise
        if _cut_short(_UPLOAD, got):
            raise _partial_echo(side, _UPLOAD, got, transcript)
        if got != _UPLOAD:
            raise _fail(f"{side} got a wrong echo of its 256 KiB upload.", expected=_show(_UPLOAD),
                        got=_show(got), hint="echo exactly the bytes you receive, in order, "
                                             "with sendall()", transcript=transcript)

    run = _serve(server_fn, script, n_arg, what=what, deadline=deadline, listener=listener,
                 expected="to echo all 256 KiB, then close once the client has closed")
    _check_closed_all(run, what, run.transcript)


def _run_echo_server(serve_once, script, what, deadline, **kw):
    run = _serve(serve_once, script, what=what, deadline=deadline,
                 expected="to echo every byte, then return once the client closes "
                          "(recv() returns b'')",
                 hint="loop: data = conn.recv(...); if not data: break; conn.sendall(data)", **kw)
    _check_closed_all(run, what, run.transcript)
    return run


def check_echo_server(serve_once, *, edge_cases: bool = True, deadline: float | None = None) -> None:
    """``serve_once(listener)``: accept one client, echo until it closes, close, return.

    Basic: two messages with a round trip between them (catches a single
    ``recv``).  Edge cases: 1 MiB (with short sends, catching ``send``
    instead of ``sendall``), 1-byte dribbles, multi-byte UTF-8, a client
    that sends nothing at all.
    """
    what = "serve_once(listener)"
    _run_echo_server(serve_once, _echo_script([b"hello", b" world"]), what, deadline)
    if not edge_cases:
        return
    _run_echo_server(serve_once, _echo_script([_BIG], whole=True), what, deadline, short_sends=True)
    _run_echo_server(serve_once, _echo_script([b"dribbled bytes"], chunk=1), what, deadline)
    _run_echo_server(serve_once, _echo_script([UTF8_TEXT.encode()]), what, deadline,
                     short_sends=True)
    _run_echo_server(serve_once, _echo_script([]), what, deadline)


def _ctime_window(start: float, end: float) -> set:
    return {time.ctime(t).encode() for t in range(int(start) - 1, int(end) + 2)}


def check_timestamp_server(serve_timestamp, *, edge_cases: bool = True,
                           deadline: float | None = None) -> None:
    """``serve_timestamp(listener)``: reply ``b'[' + ctime() + b'] ' + message`` to each message.

    Edge cases: several messages on one connection, multi-byte UTF-8, a
    4 KiB message, and short sends.
    """
    what = "serve_timestamp(listener)"
    messages = [b"hello"]
    if edge_cases:
        messages += [UTF8_TEXT.encode(), b"second message", b"z" * 4096]
    started = time.time()

    def script(address, transcript, dl):
        with connect(address, transcript, deadline=dl) as ep:
            for msg in messages:
                ep.sendall(msg)
                want = len(time.ctime().encode()) + 3 + len(msg)
                try:
                    reply = ep.recv_exactly(want, what=f"the reply to {abbreviate(msg, 20)}")
                except EOFError:
                    reply = None
                if reply is None or not _timestamp_ok(reply, msg, started):
                    _timestamp_mismatch(msg, reply if reply is not None else b"", transcript)
            ep.shutdown_wr()
            ep.recv_until_eof(what="the server to close after the client finished")

    run = _serve(serve_timestamp, script, what=what, deadline=deadline,
                 expected="one reply per message: b'[' + time.ctime().encode() + b'] ' + message",
                 short_sends=edge_cases)
    _check_closed_all(run, what, run.transcript)


def _timestamp_ok(reply: bytes, msg: bytes, started: float) -> bool:
    m = re.fullmatch(rb"\[(.{24})\] (.*)", reply, re.DOTALL)
    return bool(m) and m.group(2) == msg and m.group(1) in _ctime_window(started, time.time())


def _timestamp_mismatch(msg: bytes, reply: bytes, transcript: Transcript):
    expected = b"[" + time.ctime().encode() + b"] " + msg
    if b"b'" in reply or b'b"' in reply:
        hint = ("the reply contains the text b'...': you formatted a bytes object into a str; "
                "build the reply from bytes: b'[' + time.ctime().encode() + b'] ' + data")
    elif not reply:
        hint = "the server sent nothing back (or closed); reply to every message with sendall()"
    elif _answered_part(msg, reply):
        part = _answered_part(msg, reply)
        raise _fail(f"the server replied to only the first {part} of the {len(msg)} bytes of "
                    f"{abbreviate(msg, 32)}, as if they were a whole message.",
                    expected=_show(expected), got=_show(reply),
                    hint="one recv() returned only part of the message; read the whole message "
                         "before replying: use a bigger buffer (e.g. recv(65536)), or loop "
                         "until you have it all",
                    transcript=transcript)
    else:
        hint = "the format is b'[' + ctime + b'] ' + the message, exactly, with no newline"
    raise _fail(f"the reply to {abbreviate(msg, 32)} was not in the timestamp format.",
                expected=_show(expected), got=_show(reply), hint=hint, transcript=transcript)


def _answered_part(msg: bytes, reply: bytes) -> int:
    """How many leading bytes of ``msg`` a reply answered, if it answered only those (else 0).

    A reply to part of a message is a timestamp, the part, and then either
    nothing more or the next reply's ``[``.
    """
    m = re.match(rb"\[.{24}\] ", reply, re.DOTALL)
    if not m:
        return 0
    body = reply[m.end():]
    k = 0
    while k < min(len(body), len(msg)) and body[k] == msg[k]:
        k += 1
    return k if 0 < k < len(msg) and body[k:k + 1] in (b"", b"[") else 0


def check_sequential_server(serve_clients, n: int = 3, *, edge_cases: bool = True,
                            deadline: float | None = None) -> None:
    """``serve_clients(listener, n)``: serve n echo clients one after another, then return.

    Edge cases: more clients, one that sends nothing, one that sends 256 KiB.
    """
    what = f"serve_clients(listener, {n})"
    payloads = [b"client %d says hi" % (i + 1) for i in range(n)]
    if edge_cases:
        payloads[0] = b""
        if n > 1:
            payloads[1] = _BIG[:256 * 1024]

    def script(address, transcript, dl):
        for i, msg in enumerate(payloads):
            side = f"client {i + 1}"
            try:
                with connect(address, transcript, side, deadline=dl) as ep:
                    got = ep.exchange(msg, len(msg), shutdown=True)
                    got += ep.recv_until_eof(what="the server to close this connection")
            except (WaitTimeout, OSError, EOFError) as exc:
                got, echoed = transcript.received_by(side), _echoed(listener, i)
                if not isinstance(exc, WaitTimeout) and (_cut_short(msg, got)
                                                         or 0 < echoed < len(msg)):
                    raise _partial_echo(side, msg, got, transcript, echoed) from exc
                raise _fail(f"{side} of {n} was not served: {exc}.",
                            hint=f"accept and serve {n} clients in a loop, one after another, "
                                 f"closing each connection when its client is done",
                            transcript=transcript) from exc
            if _cut_short(msg, got):
                raise _partial_echo(side, msg, got, transcript)
            if got != msg:
                raise _fail(f"{side} got a wrong echo.", expected=_show(msg), got=_show(got),
                            transcript=transcript)

    listener = harness_listener(short_sends=edge_cases)  # send() sends part: sendall() needed
    run = _serve(serve_clients, script, n, what=what, deadline=deadline, listener=listener,
                 expected=f"to serve {n} clients in turn and then return")
    _check_closed_all(run, what, run.transcript)
    if run.accepted != n:
        raise _fail(f"{what} accepted {run.accepted} connections.", expected=n,
                    transcript=run.transcript)


def check_concurrent_server(serve_concurrently, n: int = 10, *, edge_cases: bool = True,
                            deadline: float | None = None) -> None:
    """``serve_concurrently(listener, n)``: serve n echo clients at the same time.

    All n clients connect and send before any reply is required, and all
    replies must arrive while every client is still connected, so a server
    that handles one client at a time is caught at the deadline, not hung.
    Edge cases: payloads of different sizes (up to 64 KiB) and UTF-8; then
    ``serve_concurrently(listener, 1)`` with one client uploading 256 KiB.
    """
    what = f"serve_concurrently(listener, {n})"

    def payload(i: int) -> bytes:
        if edge_cases and i % 3 == 1:
            return _BIG[: 64 * 1024] + b"%d" % i
        if edge_cases and i % 3 == 2:
            return (UTF8_TEXT + f" #{i}").encode()
        return b"client %d" % (i + 1)

    payloads = [payload(i) for i in range(n)]

    def script(address, transcript, dl):
        eps = []
        try:
            for i in range(n):
                eps.append(connect(address, transcript, f"client {i + 1}", deadline=dl))
            for ep, msg in zip(eps, payloads, strict=True):
                try:
                    ep.sendall(msg)
                except ConnectionError:  # the server already closed this one: judged below
                    ep.eof = True
            got = _gather(eps, [len(p) for p in payloads], dl)
            done = sum(g == p for g, p in zip(got, payloads, strict=False))
            for k, (ep, g, p) in enumerate(zip(eps, got, payloads, strict=False)):
                echoed = _echoed(listener, k)
                if ep.eof and (_cut_short(p, g) or 0 < echoed < len(p)):
                    raise _partial_echo(f"client {k + 1}", p, g, transcript, echoed)
            if done < n:
                raise _fail(f"only {done} of {n} clients got their echo while all {n} were "
                            f"connected at once.",
                            hint="the server seems to serve one client at a time; serve each "
                                 "connection in its own thread (threading.Thread), start them "
                                 "all, then join them",
                            transcript=transcript)
            for ep in eps:
                ep.shutdown_wr()
            for ep in eps:
                ep.recv_until_eof(what="the server to close this connection")
        finally:
            for ep in eps:
                ep.close()

    listener = harness_listener(backlog=max(16, n), short_sends=edge_cases)
    run = _serve(serve_concurrently, script, n, what=what, deadline=deadline, listener=listener,
                 expected=f"to serve {n} clients at once, and return when all are done")
    _check_closed_all(run, what, run.transcript)
    if edge_cases:
        _check_large_upload(serve_concurrently, 1, "serve_concurrently(listener, 1)", deadline)


def _gather(eps, wants, dl: Deadline) -> list:
    """Read from many endpoints at once until each has ``want`` bytes, EOF, or the deadline."""
    got = [bytearray() for _ in eps]
    open_ = {ep.sock: k for k, ep in enumerate(eps)}
    open_ = {s: k for s, k in open_.items() if not eps[k].eof}
    while open_ and not dl.expired():
        pending = [s for s, k in open_.items() if len(got[k]) < wants[k]]
        if not pending:
            break
        readable, _, _ = select.select(pending, [], [], dl.remaining())
        for s in readable:
            k = open_[s]
            try:
                chunk = eps[k].recv(wants[k] - len(got[k]))
            except ConnectionError:  # reset: the server closed with bytes unread
                eps[k].eof, chunk = True, b""
            if not chunk:
                del open_[s]
            got[k] += chunk
    return [bytes(g) for g in got]


def check_udp_echo_server(serve_udp, *, edge_cases: bool = True, deadline: float | None = None) -> None:
    """``serve_udp(sock, count)``: echo ``count`` datagrams to their senders, then return.

    Three clients on distinct ports take turns.  Edge cases: an empty
    datagram (valid in UDP, not an end of stream), multi-byte UTF-8 and a
    1024-byte datagram.
    """
    plan = [(0, b"ping"), (1, b"pong"), (2, b"hello"), (0, b"again")]
    if edge_cases:
        plan += [(1, b""), (2, UTF8_TEXT.encode()), (0, _BIG[:1024]), (1, b"last")]
    count = len(plan)
    what = f"serve_udp(sock, {count})"
    transcript = Transcript()
    dl = Deadline(_seconds(deadline))
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    clients = []
    call = None
    waker = Waker()
    try:
        server.bind(("127.0.0.1", 0))
        address = server.getsockname()
        clients = [udp_client(transcript, f"client {i + 1}", deadline=dl) for i in range(3)]
        for ep in clients:
            ep.stop_when(waker)  # wake up as soon as the learner's function ends
        call = LearnerCall(serve_udp, (server, count), what=what, on_finish=waker.set).start()
        for k, (who, msg) in enumerate(plan):
            ep = clients[who]
            ep.sendto(msg, address)
            try:
                data, source = ep.recvfrom(65535, what=f"the echo of datagram {k + 1}")
            except (WaitTimeout, PeerStopped) as exc:
                if call.wait(0.0 if isinstance(exc, WaitTimeout) else scaled(1.0)):
                    call.result()
                    raise _fail(f"{what} returned after {k} of {count} datagrams.",
                                hint="an empty datagram (b'') is a normal message in UDP, not "
                                     "an end of stream; echo exactly `count` datagrams"
                                if msg == b"" else f"echo exactly {count} datagrams, then return",
                                transcript=transcript) from exc
                raise _fail(f"client {who + 1} got no echo of datagram {k + 1} "
                            f"{abbreviate(msg, 20)}.",
                            hint="reply with sock.sendto(data, address) to the address that "
                                 "recvfrom() returned",
                            transcript=transcript) from exc
            if data != msg or source != address:
                raise _fail(f"client {who + 1} got a wrong echo of datagram {k + 1}.",
                            expected=f"{_show(msg)} from {address!r}",
                            got=f"{_show(data)} from {source!r}", transcript=transcript)
        if not call.wait(dl.remaining()):
            raise LearnerTimeout(f"{what} did not return after echoing {count} datagrams.\n"
                                 f"What crossed the wire:\n{transcript.format()}")
        call.result()
    except (LearnerTimeout, AssertionError):
        raise
    except BaseException as exc:
        raise _explain(exc, what, transcript) from exc
    finally:
        if call is not None and not call.done.is_set():
            call.abandon([server])
        hard_close(server)
        for ep in clients:
            ep.close()
        waker.close()


def _time_wait_port() -> int:
    """Leave a port whose server side is in TIME_WAIT (server closed first).

    The old server sets SO_REUSEADDR too, as the previous run of a restarted
    server would: Linux lets a new socket share the port with a TIME_WAIT
    connection only if both sockets set the option.
    """
    with socket.socket() as srv:
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind(("127.0.0.1", 0))
        srv.listen(1)
        port = srv.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port), timeout=DEFAULT_DEADLINE) as cli:
            conn, _ = srv.accept()
            conn.close()  # the server closes first: its end goes to TIME_WAIT
            cli.settimeout(DEFAULT_DEADLINE)
            cli.recv(1)  # wait for the FIN
    return port


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def check_reuseaddr_listener(make_listener, *, edge_cases: bool = True,
                             deadline: float | None = None) -> None:
    """``make_listener(port)``: listen on ('127.0.0.1', port) with SO_REUSEADDR set.

    Edge case: the port's previous server closed with a connection still
    in TIME_WAIT, which only SO_REUSEADDR (set before bind) lets it rebind
    on Linux and macOS.  Windows does not block such a rebind; there only
    the option itself is checked.
    """
    port = _time_wait_port() if edge_cases else _free_port()
    what = f"make_listener({port})"
    sock = None
    try:
        try:
            sock = _call(make_listener, port, what=what, deadline=deadline)
        except AssertionError as exc:
            cause = exc.__cause__
            if isinstance(cause, OSError) and cause.errno in ADDRINUSE_ERRNOS:
                raise _fail(f"{what} could not bind: {errno_name(cause.errno)}; the port's "
                            f"previous connection is still in TIME_WAIT.",
                            hint="set SO_REUSEADDR before bind(): "
                                 "sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)"
                            ) from cause
            raise
        if not isinstance(sock, socket.socket):
            raise _fail(f"{what} should return the listening socket.", got=_show(sock))
        if not sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR):
            raise _fail("SO_REUSEADDR is not set on the socket.",
                        hint="sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1), "
                             "before bind()")
        if sock.getsockname() != ("127.0.0.1", port):
            raise _fail("the socket is bound to the wrong address.",
                        expected=("127.0.0.1", port), got=sock.getsockname())
        try:
            socket.create_connection(("127.0.0.1", port), timeout=_patience(deadline)).close()
        except OSError as exc:
            raise _fail(f"connecting to port {port} failed: {exc!r}.",
                        hint="call listen() after bind()") from exc
    finally:
        hard_close(sock if isinstance(sock, socket.socket) else None)
    if edge_cases:
        _check_error_paths(make_listener, _free_port(), what="make_listener(port)")


def check_dualstack_server(make_dualstack_server, *, edge_cases: bool = True,
                           deadline: float | None = None) -> bool:
    """``make_dualstack_server()``: one AF_INET6 listener reachable via 127.0.0.1 and ::1.

    Returns False (after printing why) where the platform has no dual-stack
    sockets, True when the check ran and passed.  Where it has none, the
    function is still called, so that a blank stub cannot pass:
    ``create_server`` raises ValueError or OSError there, which is accepted,
    as is a returned AF_INET6 socket (closed at once); anything else, e.g.
    the stub's NotImplementedError or a None, fails as usual.
    """
    what = "make_dualstack_server()"
    if not dualstack_available():
        try:
            sock = _call(make_dualstack_server, what=what, deadline=deadline)
        except AssertionError as exc:
            if not isinstance(exc.__cause__, (ValueError, OSError)):
                raise
        else:
            try:
                if not isinstance(sock, socket.socket):
                    raise _fail(f"{what} should return the listening socket (or, where "
                                f"dual-stack sockets are unavailable, let create_server's "
                                f"error propagate).", got=_show(sock))
                if sock.family != socket.AF_INET6:
                    raise _fail(f"{what} returned a {sock.family!r} socket.",
                                expected="AF_INET6",
                                hint="socket.create_server(('', 0), family=socket.AF_INET6, "
                                     "dualstack_ipv6=True)")
            finally:
                hard_close(sock if isinstance(sock, socket.socket) else None)
        skip_unless(False, "dual-stack IPv6 sockets (IPV6_V6ONLY off) are not available")
        return False
    sock = _call(make_dualstack_server, what=what, deadline=deadline)
    try:
        if not isinstance(sock, socket.socket):
            raise _fail(f"{what} should return the listening socket.", got=_show(sock))
        if sock.family != socket.AF_INET6:
            raise _fail(f"{what} returned a {sock.family!r} socket.", expected="AF_INET6",
                        hint="socket.create_server(('', 0), family=socket.AF_INET6, "
                             "dualstack_ipv6=True)")
        if sock.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY):
            raise _fail("IPV6_V6ONLY is on, so IPv4 clients cannot connect.",
                        hint="pass dualstack_ipv6=True to create_server")
        port = sock.getsockname()[1]
        for host in ("127.0.0.1", "::1"):
            try:
                socket.create_connection((host, port), timeout=_patience(deadline)).close()
            except OSError as exc:
                raise _fail(f"a client could not connect via {host}: {exc!r}.",
                            hint="the server must listen on all addresses ('') with "
                                 "dualstack_ipv6=True") from exc
    finally:
        hard_close(sock if isinstance(sock, socket.socket) else None)
    return True


# -- clients ---------------------------------------------------------------------

def _fetch_case(fetch_all, peer, payload: bytes, what: str, deadline, how: str) -> None:
    with peer, record_unclosed() as unclosed:
        got = _call(fetch_all, peer.port, what=what, deadline=deadline, peer=peer,
                    expected="to read until recv() returns b'' and return all the bytes",
                    hint="call recv() in a loop until it returns b''")
    _expect_bytes(got, what)
    if got != payload:
        hint = ("you stopped reading too early: the reply arrives in pieces; keep calling "
                "recv() until it returns b''" if payload.startswith(bytes(got))
                else "return exactly the bytes received, in order")
        raise _fail(f"{what} returned the wrong bytes; the server sends {len(payload)} bytes "
                    f"{how}, then closes.",
                    expected=_show(payload), got=_show(got), hint=hint,
                    transcript=peer.transcript)
    _closes_its_socket(unclosed, what, peer.transcript)


@_timeout_required("fetch_all(port)", "recv", "recv_into")
def check_fetch_all(fetch_all, *, edge_cases: bool = True, deadline: float | None = None) -> None:
    """``fetch_all(port) -> bytes``: connect to 127.0.0.1:port, read until EOF.

    Basic: a short reply sent at once.  Edge cases: the reply dribbled a
    byte at a time, a 1 MiB reply, an empty reply (the server just closes).
    """
    cases = [b"Hello from the server!\n"]
    if edge_cases:
        cases += ["dribbled", _BIG, b""]
    for payload in cases:
        how = "all at once"
        if payload == "dribbled":
            payload, how = b"one byte at a time\n", "one byte at a time"
            peer = peers.dribble_server(payload, chunk=1, timeout=_patience(deadline))
        else:
            peer = peers.close_midway_server(payload, timeout=_patience(deadline))
        _fetch_case(fetch_all, peer, payload, "fetch_all(port)", deadline, how)


def _hash_reply(data: bytes) -> bytes:
    return b"%d bytes, ending %s" % (len(data), data[-8:].hex().encode())


def _large_reply(data: bytes) -> bytes:
    return _hash_reply(data) + b"\n" + _BIG


@_timeout_required("request(port, data)", "recv", "recv_into")
def check_request(request, *, edge_cases: bool = True, deadline: float | None = None) -> None:
    """``request(port, data) -> bytes``: send, shutdown(SHUT_WR), read the whole reply.

    The server replies only after the client's EOF, so a client that
    forgets the half-close waits forever; the check stops it at the
    deadline and says so.  Edge cases: an empty request, 1 MiB, UTF-8, and
    a 1 MiB reply (which arrives in many pieces, so a client that reads the
    reply with one recv() fails).
    """
    cases = [(b"GET /time", _hash_reply)]
    if edge_cases:
        cases += [(b"", _hash_reply), (_BIG, _hash_reply), (UTF8_TEXT.encode(), _hash_reply),
                  (b"GET /large", _large_reply)]
    what = "request(port, data)"
    for data, make_reply in cases:
        peer = peers.half_close_server(reply=make_reply, timeout=_patience(deadline))
        # edge cases: the learner's send() sends part of its data, as the documentation allows
        with peer, record_unclosed() as unclosed, \
                (faults.short_sends() if edge_cases else contextlib.nullcontext()):
            try:
                got = _call(request, peer.port, data, what=what, deadline=deadline, peer=peer,
                            expected="to send the data, call shutdown(SHUT_WR), and read the "
                                     "reply until EOF")
            except LearnerTimeout as exc:
                if not peer.transcript.has("server", "eof"):
                    raise _fail(f"{what} sent {abbreviate(peer.received, 24)} and then waited, "
                                f"but the server was still waiting for the end of the request.",
                                hint="after sendall(data), call "
                                     "sock.shutdown(socket.SHUT_WR) so the server sees EOF, "
                                     "then read the reply until recv() returns b''",
                                transcript=peer.transcript) from exc
                raise
        _expect_bytes(got, what)
        reply = make_reply(data)
        if peer.received != data:
            raise _fail("the server received different bytes than the request.",
                        expected=_show(data), got=_show(peer.received),
                        hint="send the whole request with sendall()", transcript=peer.transcript)
        if got != reply:
            short = reply.startswith(bytes(got)) and len(got) < len(reply)
            raise _fail(f"{what} returned the wrong reply"
                        + (f": only the first {len(got)} of its {len(reply)} bytes." if short else "."),
                        expected=_show(reply), got=_show(got),
                        hint="it stopped reading too early: a large reply arrives in many "
                             "pieces, so call recv() in a loop until it returns b''"
                        if short else "read until recv() returns b''",
                        transcript=peer.transcript)
        _closes_its_socket(unclosed, what, peer.transcript)


def check_probe(probe, *, edge_cases: bool = True, deadline: float | None = None) -> None:
    """``probe(port) -> bool`` with connect_ex: True if something listens, else False.

    Edge cases: a server that accepts and never speaks (still True), probing
    a refused port twice, a refusal on a pretend Windows (10061), connect_ex
    reporting EHOSTUNREACH and an address that never answers (both must raise
    OSError, within about a second); no socket may be left open.
    """
    what = "probe(port)"
    servers = [peers.echo_server]
    if edge_cases:
        servers.append(peers.silent_server)
    for make in servers:
        with make(timeout=_patience(deadline)) as srv, record_unclosed() as unclosed:
            got = _call(probe, srv.port, what=what, deadline=deadline, peer=srv,
                        expected="to connect, close, and return True")
        if got is not True:
            raise _fail(f"{what} on a listening server returned {got!r}.", expected=True,
                        hint="connect_ex() returns 0 on success; return "
                             "sock.connect_ex(address) == 0", transcript=srv.transcript)
        _closes_its_socket(unclosed, what)
    for _ in range(2 if edge_cases else 1):
        with peers.refused_address() as address, record_unclosed() as unclosed:
            try:
                # Windows reports a refusal only after about 2 s (probes.REFUSAL_DELAY)
                got = _call(probe, address[1], what=what, deadline=_seconds(deadline) + REFUSAL_DELAY)
            except AssertionError as exc:
                if isinstance(exc.__cause__, ConnectionRefusedError):
                    raise _fail(f"{what} raised ConnectionRefusedError on a closed port.",
                                hint="use connect_ex(), which returns an error number instead "
                                     "of raising, and compare it with 0") from exc.__cause__
                raise
        if got is not False:
            raise _fail(f"{what} on a port where nothing listens returned {got!r}.",
                        expected=False, hint="return sock.connect_ex(address) == 0")
        _closes_its_socket(unclosed, what)
    if edge_cases:
        _probe_other_outcomes(probe, what, deadline)


def _probe_other_outcomes(probe, what: str, deadline) -> None:
    """A refusal with Windows' number; an unreachable host and a timeout, which are not answers."""
    with peers.refused_address() as address, faults.pretend_errnos("win32"):
        got = _call(probe, address[1], what=what, deadline=deadline)
    if got is not False:
        raise _fail(f"on a pretend Windows, where a refusal is error {errno_name(errno.ECONNREFUSED)} "
                    f"= 10061, {what} on a closed port returned {_show(got)}.", expected=False,
                    hint="compare the code with probes.REFUSED_ERRNOS (or errno.ECONNREFUSED), "
                         "never with a number")
    unreachable = OSError(errno.EHOSTUNREACH, os.strerror(errno.EHOSTUNREACH))
    with peers.echo_server(timeout=_patience(deadline)) as srv, \
            faults.inject("connect_ex", unreachable), record_unclosed() as unclosed:
        _expect_oserror(probe, srv.port, what=f"{what} when connect_ex returns EHOSTUNREACH",
                        codes={errno.EHOSTUNREACH}, deadline=deadline)
    _closes_its_socket(unclosed, what)
    with faults.unresponsive_address() as address, record_unclosed() as unclosed:
        if skip_unless(address is not None, "connects here never time out; probe's timeout was "
                                            "not checked"):
            _expect_oserror(probe, address[1], what=f"{what} when nobody answers the connection",
                            codes=set(probes.WOULDBLOCK_ERRNOS | probes.TIMEOUT_ERRNOS),
                            deadline=scaled(1.0) + scaled(0.6))
    _closes_its_socket(unclosed, what)


def _expect_oserror(fn, *args, what: str, codes: set, deadline) -> None:
    """fn(*args) must raise OSError with an errno in ``codes`` (returning an answer is wrong)."""
    try:
        got = _call(fn, *args, what=what, deadline=deadline)
    except LearnerTimeout as exc:
        raise _fail(f"{what}, it was still waiting after {_seconds(deadline):.1f} s.",
                    hint="set a timeout of one second before connecting") from exc
    except AssertionError as exc:
        cause = exc.__cause__
        if isinstance(cause, OSError) and cause.errno in codes:
            return
        raise
    raise _fail(f"{what}, it returned {_show(got)}: that is not an answer.",
                expected=f"OSError with errno {' or '.join(sorted(errno_name(c) for c in codes))}",
                hint="raise OSError(code, os.strerror(code)) for any code other than 0 and a refusal")


def check_fetch_with_timeout(fetch_with_timeout, *, edge_cases: bool = True,
                             deadline: float | None = None, timeout: float | None = None) -> None:
    """``fetch_with_timeout(port, timeout) -> bytes``: a reply, or TimeoutError in about ``timeout``.

    Basic: a responsive server, then a silent one (TimeoutError expected
    between half and three times ``timeout``).  Edge case: a 1 MiB reply.
    The socket must be closed in both outcomes.
    """
    t = scaled(0.2) if timeout is None else timeout
    what = f"fetch_with_timeout(port, {t:g})"
    limit = max(_seconds(deadline), 3 * t + scaled(0.5))
    replies = [b"pong\n"] + ([_BIG] if edge_cases else [])
    for payload in replies:
        with peers.close_midway_server(payload, timeout=_patience(limit)) as srv, \
                record_unclosed() as unclosed:
            got = _call(fetch_with_timeout, srv.port, t, what=what, deadline=limit, peer=srv,
                        expected="the server's reply")
        _expect_bytes(got, what)
        if got != payload:
            raise _fail(f"{what} returned the wrong bytes.", expected=_show(payload),
                        got=_show(got), hint="read until recv() returns b''",
                        transcript=srv.transcript)
        _closes_its_socket(unclosed, what, srv.transcript)
    with peers.silent_server(timeout=_patience(limit)) as srv, record_unclosed() as unclosed:
        start = time.monotonic()
        try:
            got = _call(fetch_with_timeout, srv.port, t, what=what, deadline=limit, peer=srv,
                        expected=f"TimeoutError after about {t:g} s from a server that never "
                                 f"replies",
                        hint="pass timeout to socket.create_connection() or call "
                             "sock.settimeout(timeout) before recv()")
        except AssertionError as exc:
            if not isinstance(exc.__cause__, (socket.timeout, TimeoutError)):
                raise
            elapsed = time.monotonic() - start
            if not (t / 2 <= elapsed <= 3 * t + scaled(0.3)):
                raise _fail(f"{what} raised TimeoutError after {elapsed:.2f} s.",
                            expected=f"about {t:g} s", transcript=srv.transcript) from None
        else:
            raise _fail(f"{what} returned instead of raising TimeoutError for a server that "
                        f"never replies.", expected="TimeoutError (socket.timeout)",
                        got=_show(got),
                        hint="let the timeout propagate; a silent server is not a closed one "
                             "(b'' means closed)", transcript=srv.transcript)
    _closes_its_socket(unclosed, what, srv.transcript)


@_timeout_required("exchange_lines(port, lines)", "recv", "recv_into")
def check_line_client(exchange_lines, *, edge_cases: bool = True, deadline: float | None = None) -> None:
    """``exchange_lines(port, lines) -> list[str]`` with makefile against an upper-casing line server.

    Replies may be returned with or without their trailing newline.  Edge
    cases: UTF-8, an empty line, a line with leading and trailing spaces and a
    tab, a 100 000-character line, 50 lines.
    """
    what = "exchange_lines(port, lines)"
    lines = ["hello", "socket world"]
    if edge_cases:  # spaces and a tab belong to the data: only the newline may be stripped
        lines += [UTF8_TEXT, "", "  padded\t ", "x" * 100_000] + [f"line {i}" for i in range(50)]
    expected = [line.encode().upper().decode() for line in lines]
    with peers.line_server(timeout=_patience(deadline)) as srv, record_unclosed() as unclosed:
        try:
            got = _call(exchange_lines, srv.port, list(lines), what=what, deadline=deadline,
                        peer=srv, expected="one reply line per line sent")
        except LearnerTimeout as exc:
            received = srv.received
            if not received:
                hint = ("nothing reached the server: makefile() buffers writes; call "
                        "f.flush() after writing each line")
            elif not received.endswith(b"\n"):
                hint = (f"the server received {abbreviate(received[-40:], 40)} with no b'\\n' "
                        f"at the end, so it was still waiting for the line to end; write "
                        f"line + '\\n'")
            else:
                hint = "read each reply with readline() after flushing each line"
            raise _fail(f"{what} did not finish within the deadline.", hint=hint,
                        transcript=srv.transcript) from exc
    if not isinstance(got, list):
        raise _fail(f"{what} should return a list of str.", got=_show(got))
    if any(isinstance(x, (bytes, bytearray)) for x in got):
        raise _fail(f"{what} returned bytes lines; return str (decode each line).",
                    got=repr(got[:3]))
    normal = [x[:-1] if isinstance(x, str) and x.endswith("\n") else x for x in got]
    if normal != expected:
        raise _fail(f"{what} returned the wrong lines.",
                    expected=f"{len(expected)} lines, starting {expected[:3]!r}",
                    got=f"{len(got)} items, starting {got[:3]!r}", transcript=srv.transcript)
    _closes_its_socket(unclosed, what, srv.transcript)


def check_udp_client(udp_request, *, edge_cases: bool = True, deadline: float | None = None,
                     timeout: float | None = None) -> None:
    """``udp_request(port, data, timeout, retries) -> bytes``, retrying on timeout.

    Basic: an echo server that answers at once.  Edge cases: one that
    drops the first two datagrams (retries=3 must succeed), one that
    drops everything (TimeoutError expected, after exactly retries + 1
    attempts and within a bounded time), one that drops ``retries`` datagrams
    (the last attempt gets the reply), UTF-8 payload, and a
    ConnectionResetError from the wait, which must propagate.
    """
    t = scaled(0.1) if timeout is None else timeout
    cases = [(0, 3, b"ping")]
    if edge_cases:  # the last allowed attempt must be made (3 of 3 dropped), and no more than that
        cases += [(2, 3, UTF8_TEXT.encode()), (3, 3, b"fourth time"), (10_000, 2, b"anyone?")]
    for drop, retries, data in cases:
        what = f"udp_request(port, {abbreviate(data, 12)}, {t:g}, retries={retries})"
        limit = max(_seconds(deadline), (retries + 2) * t + scaled(0.5))
        with peers.udp_echo_server(drop_first=drop, timeout=_patience(limit)) as srv, \
                record_unclosed() as unclosed:
            start = time.monotonic()
            try:
                got = _call(udp_request, srv.port, data, t, retries, what=what, deadline=limit,
                            peer=srv, expected="a reply, retrying after each timeout")
            except LearnerTimeout as exc:
                if srv.datagrams > retries + 1:
                    raise _fail(f"{what} was still retrying after {srv.datagrams} attempts.",
                                expected=f"at most {retries + 1} attempts, then TimeoutError",
                                hint="stop after `retries` retries and raise TimeoutError",
                                transcript=srv.transcript) from exc
                raise
            except AssertionError as exc:
                if drop <= retries or not isinstance(exc.__cause__, (socket.timeout, TimeoutError)):
                    if drop and isinstance(exc.__cause__, (socket.timeout, TimeoutError)):
                        raise _fail(f"{what} gave up after {srv.datagrams} attempt(s); the "
                                    f"server dropped the first {drop} datagram(s) and would "
                                    f"have answered attempt {drop + 1}.",
                                    hint="catch socket.timeout and send again, up to `retries` "
                                         "times", transcript=srv.transcript) from exc.__cause__
                    raise
                elapsed = time.monotonic() - start
                if srv.datagrams < retries + 1:
                    raise _fail(f"{what} gave up after {srv.datagrams} attempt(s).",
                                expected=f"{retries + 1} attempts (the first and {retries} retries), "
                                         f"then TimeoutError",
                                hint="for attempt in range(retries + 1): ...",
                                transcript=srv.transcript) from None
                if srv.datagrams > retries + 1 or elapsed > (retries + 2) * t + scaled(0.3):
                    raise _fail(f"{what} sent {srv.datagrams} datagrams over {elapsed:.2f} s "
                                f"before giving up.",
                                expected=f"at most {retries + 1} attempts",
                                transcript=srv.transcript) from None
                _closes_its_socket(unclosed, what, srv.transcript)
                continue
            if drop > retries:
                raise _fail(f"{what} returned although the server never answered.",
                            expected="TimeoutError once all retries are used up", got=_show(got),
                            transcript=srv.transcript)
        _expect_bytes(got, what)
        if got != data:
            raise _fail(f"{what} returned the wrong reply.", expected=_show(data), got=_show(got),
                        transcript=srv.transcript)
        _closes_its_socket(unclosed, what, srv.transcript)
    if edge_cases:
        _udp_other_error(udp_request, t, deadline)


def _udp_other_error(udp_request, t: float, deadline) -> None:
    """Only a timeout is retried: any other error from the wait propagates (Windows reports an ICMP
    "port unreachable" as ConnectionResetError on the next recvfrom)."""
    what = f"udp_request(port, b'ping', {t:g}, retries=3)"
    reset = ConnectionResetError(errno.ECONNRESET, "Connection reset by peer (injected)")
    with peers.udp_echo_server(timeout=_patience(deadline)) as srv, record_unclosed() as unclosed, \
            faults.inject("recvfrom", reset, times=1), faults.inject("recv", reset, times=1):
        try:
            got = _call(udp_request, srv.port, b"ping", t, 3, what=what, deadline=deadline, peer=srv)
        except AssertionError as exc:
            if exc.__cause__ is not reset:
                raise
        else:
            raise _fail(f"the wait for the reply failed with ConnectionResetError, but {what} "
                        f"retried and returned {_show(got)}.",
                        expected="the ConnectionResetError, propagated: only a timeout is retried",
                        hint="catch TimeoutError (socket.timeout) only, not OSError or Exception",
                        transcript=srv.transcript)
    _closes_its_socket(unclosed, what, srv.transcript)


@_timeout_required("send_file(port, path)", "sendfile")
def check_sendfile(send_file, *, edge_cases: bool = True, deadline: float | None = None) -> None:
    """``send_file(port, path) -> int``: send a file's bytes with socket.sendfile.

    The reference server reads until EOF and compares every byte.  Edge
    cases: a 1 MiB + 7 byte binary file, an empty file.
    """
    contents = [b"hello sendfile\n" * 10]
    if edge_cases:
        contents += [_BIG + b"7 bytes", b""]
    with tempfile.TemporaryDirectory(prefix="sc-") as tmp:
        for k, content in enumerate(contents):
            path = os.path.join(tmp, f"file{k}.bin")
            with open(path, "wb") as f:
                f.write(content)
            what = f"send_file(port, {os.path.basename(path)!r})"
            with peers.silent_server(timeout=_patience(deadline)) as srv, \
                    record_unclosed() as unclosed:
                got = _call(send_file, srv.port, path, what=what, deadline=deadline, peer=srv,
                            expected="to send the whole file and close the connection")
                finished = srv.wait_finished(1, _seconds(deadline))
            if srv.received != content:
                raise _fail(f"the server received different bytes than {what} should send.",
                            expected=_show(content), got=_show(srv.received),
                            hint="open the file in binary mode ('rb'), call sock.sendfile(f), "
                                 "and close the socket so the server sees the end",
                            transcript=srv.transcript)
            if not finished:  # pragma: no cover - the received bytes differ first
                raise _fail("the connection was not closed after sending.",
                            transcript=srv.transcript)
            if got != len(content):
                raise _fail(f"{what} should return the number of bytes sent.",
                            expected=len(content), got=_show(got))
            _closes_its_socket(unclosed, what, srv.transcript)


# -- byte-level helpers over socketpair ------------------------------------------

def _pair(shaped: bool):
    a, b = socket.socketpair()
    if shaped:
        a = shape(a)
    return a, b


def _frame(payload: bytes) -> bytes:
    return struct.pack("!I", len(payload)) + payload


def check_framing(send_msg, recv_msg, *, edge_cases: bool = True,
                  deadline: float | None = None) -> None:
    """Length-prefixed framing with ``struct '!I'``: ``send_msg(sock, payload)``, ``recv_msg(sock)``.

    ``recv_msg`` returns None on a clean EOF between messages and raises
    EOFError or ConnectionError on EOF mid-message.  Edge cases: short
    sends and reads (every call transfers at most half), an empty payload,
    1 MiB, UTF-8, back-to-back frames in one write, EOF in the header and in
    the payload.
    """
    check_send_msg(send_msg, edge_cases=edge_cases, deadline=deadline)
    check_recv_msg(recv_msg, edge_cases=edge_cases, deadline=deadline)


def _framing_payloads(edge_cases: bool) -> list:
    return [b"hello", b"framing"] + ([b"", _BIG, UTF8_TEXT.encode()] if edge_cases else [])


def check_send_msg(send_msg, *, edge_cases: bool = True, deadline: float | None = None) -> None:
    """``send_msg(sock, payload)``: one frame, a ``struct '!I'`` length header then the payload.

    The sending half of :func:`check_framing`, for a notebook that grades
    the two halves as separate exercises: a reference reader checks every
    frame byte by byte.  Edge cases: short sends (every send() call
    transfers at most half), an empty payload, 1 MiB, UTF-8.
    """
    _check_send_msg(send_msg, _framing_payloads(edge_cases), edge_cases, deadline)


def check_recv_msg(recv_msg, *, edge_cases: bool = True, deadline: float | None = None) -> None:
    """``recv_msg(sock)``: one frame's payload; None on a clean EOF, EOFError mid-message.

    The receiving half of :func:`check_framing`: a reference writer sends
    every frame back-to-back in one write and closes; ``recv_msg`` is called
    until it returns None.  Edge cases: short reads (every recv() call
    returns at most half), an empty payload, 1 MiB, UTF-8, and EOF in the
    header and in the payload (EOFError or ConnectionError expected).
    """
    _check_recv_msg(recv_msg, _framing_payloads(edge_cases), edge_cases, deadline)
    if edge_cases:
        for cut, where in ((2, "in the middle of the 4-byte header"),
                           (3, "after 3 of the 4 header bytes"),
                           (4 + 3, "after 3 of the 10 payload bytes")):
            _expect_eof_error(recv_msg, (), _frame(b"0123456789")[:cut], where,
                              "recv_msg(sock)",
                              "if recv() returns b'' before a message is complete, raise "
                              "EOFError; return None only when it happens before a header",
                              deadline)


def _learner_io(fn, args, what, transcript, deadline, ep=None, work=None):
    """Run learner code on one end of a socketpair while ``work(ep)`` drives the other.

    ``work`` runs in this thread; if the learner's function returns (or
    raises) first, ``ep``'s waits end at once (PeerStopped, after reading
    what is already there) instead of at the deadline.  Returns
    (learner result, work result or the PeerStopped/WaitTimeout/EOFError it
    raised).  The learner's exceptions are explained; its socket is closed
    if it is abandoned.
    """
    waker = Waker()
    call = LearnerCall(fn, args, what=what, on_finish=waker.set).start()
    seconds = _seconds(deadline)
    outcome = None
    try:
        if work is not None:
            ep.stop_when(waker)
            try:
                outcome = work(ep)
            except (PeerStopped, WaitTimeout, EOFError) as exc:
                outcome = exc
            finally:
                ep.stop_when(None)
        if not call.wait(seconds if ep is None else ep.limit()):
            raise LearnerTimeout(f"{what} did not return within {seconds:.1f} s.\n"
                                 f"  the exchange:\n{exchange.text(transcript)}")
        try:
            return call.result(), outcome
        except (NotImplementedError, AssertionError):
            raise
        except BaseException as exc:
            raise _explain(exc, what, transcript) from exc
    finally:
        if not call.done.is_set():
            call.abandon([a for a in args if isinstance(a, socket.socket)])
        waker.close()


def _check_send_msg(send_msg, payloads, shaped, deadline) -> None:
    what = "send_msg(sock, payload)"
    for payload in payloads:
        transcript = Transcript()
        a, b = _pair(shaped)
        want = struct.pack("!I", len(payload))
        try:
            ep = Endpoint(b, transcript, "reader", deadline=Deadline(_seconds(deadline)))

            def read_frame(ep, want=want, payload=payload):
                header = ep.recv_exactly(4, what="the 4-byte length header")
                if header != want:
                    return header
                return header + ep.recv_exactly(len(payload), what="the payload")

            _, got = _learner_io(send_msg, (a, payload), what, transcript, deadline, ep, read_frame)
            if isinstance(got, bytes) and got[:4] != want:
                raise _fail(f"{what} sent the wrong header for a {len(payload)}-byte payload.",
                            expected=_show(want), got=_show(got),
                            hint="the header is struct.pack('!I', len(payload)): 4 bytes, "
                                 "network (big-endian) byte order", transcript=transcript)
            if not isinstance(got, bytes):
                hint = ("send() may send only part of the data; use sendall() for the header "
                        "and the payload")
                raise _fail(f"{what} returned without sending a whole frame for a "
                            f"{len(payload)}-byte payload.", hint=hint, transcript=transcript)
            extra = _drain(b)
            if got[4:] != payload or extra:
                raise _fail(f"{what} sent the wrong payload.", expected=_show(payload),
                            got=_show(got[4:] + extra), transcript=transcript)
        finally:
            a.close()
            b.close()


def _drain(sock) -> bytes:
    sock.setblocking(False)
    try:
        return sock.recv(65536)
    except (BlockingIOError, InterruptedError):
        return b""


def _check_recv_msg(recv_msg, payloads, shaped, deadline) -> None:
    """All frames back-to-back in one write, then EOF; recv_msg called until it returns None."""
    what = "recv_msg(sock)"
    transcript = Transcript()
    results: list = []

    def read_all(sock):
        for _ in range(len(payloads) + 1):
            results.append(recv_msg(sock))

    def write_all(ep):
        ep.sendall(b"".join(_frame(p) for p in payloads))
        ep.shutdown_wr()

    a, b = _pair(shaped)
    try:
        ep = Endpoint(b, transcript, "sender", deadline=Deadline(_seconds(deadline)))
        try:
            _learner_io(read_all, (a,), what, transcript, deadline, ep, write_all)
        except AssertionError as exc:
            if not results or exc.__cause__ is None:
                raise
            _compare_messages(results, payloads, what, transcript)  # an earlier wrong result
            # explains a later failure better than the failure itself
            cause = exc.__cause__  # failed after some messages: say which call
            raise _fail(f"{what} call {len(results) + 1} raised {type(cause).__name__}: {cause} "
                        f"(calls 1-{len(results)} returned {[abbreviate(r or b'', 12) for r in results]}).",
                        hint="read exactly 4 header bytes, unpack with '!I', then read exactly "
                             "that many bytes, looping on recv(); return None only on EOF "
                             "before a header", transcript=transcript) from cause
        _compare_messages(results, payloads, what, transcript)
        if results[-1] is not None:
            raise _fail(f"after the last message the sender closed, but {what} returned "
                        f"{_show(results[-1])}.", expected="None (a clean end of the stream)",
                        transcript=transcript)
    finally:
        a.close()
        b.close()


def _compare_messages(results, payloads, what, transcript) -> None:
    for i, (got, payload) in enumerate(zip(results, payloads, strict=False)):
        if got != payload:
            over = ("" if not isinstance(got, (bytes, bytearray)) or len(got) <= len(payload)
                    else " It returned more than one frame's worth: read exactly the "
                         "length in the header.")
            raise _fail(f"{what} call {i + 1} returned the wrong message.{over}",
                        expected=_show(payload), got=_show(got),
                        hint="read exactly 4 header bytes, unpack with '!I', then read "
                             "exactly that many bytes, looping on recv()",
                        transcript=transcript)


def _expect_eof_error(fn, args, data: bytes, where: str, what: str, hint: str, deadline) -> None:
    """The sender writes ``data`` then closes; the learner's call must raise EOFError/ConnectionError."""
    transcript = Transcript()
    a, b = _pair(True)
    try:
        ep = Endpoint(b, transcript, "sender", deadline=Deadline(_seconds(deadline)))

        def write(ep):
            ep.sendall(data)
            ep.shutdown_wr()
        try:
            got, _ = _learner_io(fn, (a,) + args, what, transcript, deadline, ep, write)
        except AssertionError as exc:
            if isinstance(exc.__cause__, (EOFError, ConnectionError)):
                return
            raise
        raise _fail(f"the sender closed {where}, but {what} returned {_show(got)}.",
                    expected="EOFError or ConnectionError (the data is incomplete)",
                    hint=hint, transcript=transcript)
    finally:
        a.close()
        b.close()


def check_recv_exactly(recv_exactly_into, *, edge_cases: bool = True,
                       deadline: float | None = None) -> None:
    """``recv_exactly_into(sock, buf)``: fill ``buf`` completely using recv_into.

    Edge cases: short reads (each recv_into fills at most half the space),
    1 MiB, a memoryview slice of a larger buffer (bytes around it must stay
    untouched), a zero-length buffer, bytes after the buffer's worth must
    stay unread, and a sender that closes early (EOFError or
    ConnectionError expected).
    """
    cases = [("bytearray", b"hello, recv_into")]
    if edge_cases:
        cases += [("bytearray", _BIG), ("slice", UTF8_TEXT.encode()), ("bytearray", b"")]
    what = "recv_exactly_into(sock, buf)"
    for kind, data in cases:
        transcript = Transcript()
        a, b = _pair(edge_cases)
        try:
            ep = Endpoint(b, transcript, "sender", deadline=Deadline(_seconds(deadline)))
            outer = bytearray(b"#" * (len(data) + 8))
            buf = memoryview(outer)[4:4 + len(data)] if kind == "slice" else bytearray(len(data))
            _learner_io(recv_exactly_into, (a, buf), what, transcript, deadline, ep,
                        lambda ep, data=data: ep.sendall(data + b"NEXT"))
            filled = bytes(buf)
            if filled != data:
                raise _fail(f"{what} did not fill the {len(data)}-byte buffer with the bytes "
                            f"sent.", expected=_show(data), got=_show(filled),
                            hint="loop until the buffer is full, receiving into the part not "
                                 "yet filled: view = memoryview(buf); "
                                 "n = sock.recv_into(view[got:])", transcript=transcript)
            if kind == "slice" and (outer[:4] != b"####" or outer[-4:] != b"####"):
                raise _fail(f"{what} wrote outside the buffer it was given.",
                            transcript=transcript)
            reader = Endpoint(a, transcript, "check", deadline=Deadline(_seconds(deadline)))
            try:
                rest = reader.recv_exactly(4, what="the bytes after the buffer's worth")
            except (EOFError, WaitTimeout):
                rest = b""
            if rest != b"NEXT":
                raise _fail(f"{what} read past the end of the buffer.",
                            expected="the bytes after the buffer's worth to stay in the socket",
                            got=f"next bytes {rest!r}", transcript=transcript)
        finally:
            a.close()
            b.close()
    if edge_cases:
        _expect_eof_error(recv_exactly_into, (bytearray(10),), b"only 6", "after 6 of 10 bytes",
                          what, "recv_into() returning 0 means the peer closed: raise EOFError",
                          deadline)
