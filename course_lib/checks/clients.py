"""Checks of learner clients, run against reference peers (``_call`` with ``peer=``).

fetch-until-EOF, request with half-close, probe with connect_ex, timeouts,
line clients over makefile(), UDP with retries, sendfile.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import tempfile
import time
from typing import Callable

from .. import faults, peers, probes
from ..probes import REFUSAL_DELAY, errno_name, skip_unless
from ..resources import record_unclosed
from ..runners import LearnerTimeout
from ..timing import scaled
from ..transcript import abbreviate
from .drivers import _BIG, UTF8_TEXT, _call, _patience, _seconds, _timeout_required, _waits_out_silence
from .vocabulary import _closes_its_socket, _expect_bytes, _fail, _show


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


@_timeout_required("fetch_all(port)", "recv", "recv_into", silent=lambda port: (port,))
def check_fetch_all(fetch_all, *, edge_cases: bool = True, deadline: float | None = None) -> None:
    """``fetch_all(port) -> bytes``: connect to 127.0.0.1:port, read until EOF.

    Basic: a short reply sent at once.  Edge cases: the reply dribbled a
    byte at a time, a 1 MiB reply, an empty reply (the server just closes).
    """
    cases: list[tuple[bytes, bool]] = [(b"Hello from the server!\n", False)]  # (payload, dribbled)
    if edge_cases:
        cases += [(b"one byte at a time\n", True), (_BIG, False), (b"", False)]
    for payload, dribbled in cases:
        if dribbled:
            how = "one byte at a time"
            peer = peers.dribble_server(payload, chunk=1, timeout=_patience(deadline))
        else:
            how = "all at once"
            peer = peers.close_midway_server(payload, timeout=_patience(deadline))
        _fetch_case(fetch_all, peer, payload, "fetch_all(port)", deadline, how)


def _hash_reply(data: bytes) -> bytes:
    return b"%d bytes, ending %s" % (len(data), data[-8:].hex().encode())


def _large_reply(data: bytes) -> bytes:
    return _hash_reply(data) + b"\n" + _BIG


@_timeout_required("request(port, data)", "recv", "recv_into", silent=lambda port: (port, b"anyone?"))
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
    servers: list[Callable[..., peers.Peer]] = [peers.echo_server]
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
    silent = f"{what} when nobody answers the connection"
    with faults.unresponsive_address() as address, record_unclosed() as unclosed:
        if skip_unless(address is not None, "connects here never time out; probe's timeout was "
                                            "not checked"):
            _waits_out_silence(lambda limit: _expect_oserror(probe, address[1], what=silent, deadline=limit,
                                                             codes=set(probes.WOULDBLOCK_ERRNOS
                                                                       | probes.TIMEOUT_ERRNOS)),
                               scaled(1.0) + scaled(0.6), silent, "set a timeout of one second before connecting")
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


@_timeout_required("exchange_lines(port, lines)", "recv", "recv_into",
                   silent=lambda port: (port, ["anyone?"]))
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
                srv.settled(scaled(0.5))
                if srv.datagrams > retries + 1:
                    raise _fail(f"{what} was still retrying after {srv.datagrams} attempts.",
                                expected=f"at most {retries + 1} attempts, then TimeoutError",
                                hint="stop after `retries` retries and raise TimeoutError",
                                transcript=srv.transcript) from exc
                raise
            except AssertionError as exc:
                srv.settled(scaled(0.5))  # (the attempts are counted: the last may still be in flight)
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


def _send_buffers() -> int:
    """The most a TCP sender's buffer may hold here (tcp_wmem's maximum), 4 MiB where it cannot be read."""
    try:
        with open("/proc/sys/net/ipv4/tcp_wmem", encoding="ascii") as fh:
            return int(fh.read(100).split()[2])
    except (OSError, ValueError, IndexError):
        return 4 << 20


@contextlib.contextmanager
def _a_file_too_big_to_buffer(port: int):
    """(port, path) of a file larger than loopback buffers hold (sparse: it takes no disk): sent to a
    server that never reads, the sending waits."""
    with tempfile.TemporaryDirectory(prefix="sc-") as tmp:
        path = os.path.join(tmp, "big.bin")
        with open(path, "wb") as f:
            f.truncate(min(2 * _send_buffers() + (1 << 20), 256 << 20))
        yield port, path


@_timeout_required("send_file(port, path)", "sendfile", silent=_a_file_too_big_to_buffer, server=peers.deaf_server)
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
