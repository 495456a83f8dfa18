"""Checks of learner servers, driven by scripted reference clients (``_serve``).

Echo, timestamp, sequential and concurrent TCP servers, and the UDP echo
server (driven by reference UDP clients in this thread).
"""

from __future__ import annotations

import re
import select
import socket
import time

from ..endpoint import Endpoint, PeerStopped, WaitTimeout, Waker, connect, udp_client
from ..resources import hard_close
from ..runners import LearnerCall, LearnerTimeout, harness_listener
from ..timing import Deadline, scaled
from ..transcript import Transcript, abbreviate
from .drivers import _BIG, UTF8_TEXT, _seconds, _serve
from .vocabulary import _check_closed_all, _explain, _fail, _show


def _echo_script(messages, *, chunk: int | None = None, whole: bool = False):
    """Client for echo servers: round-trip each message, half-close, expect EOF."""
    def script(address, transcript, deadline):
        with connect(address, transcript, deadline=deadline) as ep:
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
                    _echo_mismatch(i, msg, got, ep, transcript)
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


def _echo_mismatch(i, msg, got, ep, transcript):
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
    accepted = list(listener.accepted)  # one reading (in a judge each reading asks the kernel afresh)
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
    return m is not None and m.group(2) == msg and m.group(1) in _ctime_window(started, time.time())


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
            # Every client is still connected: a server that joins its threads cannot return yet, one that
            # forgot to has returned, or will as soon as it runs again (its threads wait for EOF: nothing
            # else is left to run). Give it that moment, or its threads might end first and hide the bug.
            listener.run.ended.wait(scaled(0.05))
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
