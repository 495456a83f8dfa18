"""Checks of one-thread, many-socket servers (section 07, exercises 3 and 4).

* :func:`check_serve_many`: a selectors echo server; it must serve every
  client from one thread, and a client that uploads 1 MiB and never reads
  its echo must not stall the others.
* :func:`check_relay`: a line-based chat relay: framing per connection,
  lines split across reads or sharing one, a client that closes in the
  middle of a line, one that resets.
"""

from __future__ import annotations

import select
import threading

from ..endpoint import Endpoint, WaitTimeout, connect
from ..timing import Deadline, scaled
from ..transcript import Transcript
from .drivers import _BIG, UTF8_TEXT
from .vocabulary import _fail, _show
from .watching import _finish_clients, _SelectorWatch, _serve_explained, _ThreadWatch, _tight_listener


class _Client:
    """One reference client of a pumped conversation: what it sends, what it has got back."""

    def __init__(self, ep: Endpoint, out: bytes, reading: bool = True, conn=None) -> None:
        self.ep, self.out, self.off, self.got = ep, memoryview(out), 0, bytearray()
        self.reading, self.broken = reading, False
        self.conn = conn  # the server's side of this connection (a HarnessSocket), if known

    @property
    def done(self) -> bool:
        return len(self.got) >= len(self.out)


def _match_connections(clients, listener) -> None:
    """Pair each client with the server's side of its connection (clients connect in order)."""
    for c, conn in zip(clients, listener.accepted, strict=False):  # a client may not have been accepted
        if c is not None:
            c.conn = conn


def _pump(clients, until, dl: Deadline) -> bool:
    """Send and receive for every client at once (one select loop) until ``until()`` or the deadline."""
    while not until() and not dl.expired():
        rl = [c.ep.sock for c in clients if c.reading and not c.ep.eof and not c.done]
        wl = [c.ep.sock for c in clients if c.off < len(c.out) and not c.broken]
        if not rl and not wl:
            break
        r, w, _ = select.select(rl, wl, [], dl.remaining())
        for c in clients:
            ep = c.ep
            if ep.sock in w:
                try:
                    n = ep._io(ep.sock.send, c.out[c.off:c.off + 65536])
                except OSError:
                    c.broken = True
                    n = None
                if n:
                    ep.transcript.sent(ep.side, c.out[c.off:c.off + n])
                    c.off += n
            if ep.sock in r:
                try:
                    chunk = ep._io(ep.sock.recv, 65536)
                except OSError:
                    chunk = b""
                if chunk is None:
                    continue
                ep.transcript.received(ep.side, chunk)
                if not chunk:
                    ep.eof = True
                c.got += chunk
    return until()


def _echo_failures(clients, transcript: Transcript, stalled_by: str | None = None):
    late = [c for c in clients if not c.done]
    for c in late:
        if c.conn is not None and c.conn.bytes_received >= len(c.out) > c.conn.bytes_sent:
            raise _fail(f"the server read all {len(c.out)} bytes {c.ep.side} sent, but echoed "
                        f"only {c.conn.bytes_sent} of them and sent no more.",
                        expected=_show(bytes(c.out)), got=_show(bytes(c.got)),
                        hint="send() on a non-blocking socket may take only part of the data: "
                             "keep the rest in that connection's outgoing buffer and send it "
                             "when EVENT_WRITE says the socket is writable",
                        transcript=transcript)
    for c in clients:
        if c.got and bytes(c.got) != bytes(c.out[:len(c.got)]):
            raise _fail(f"{c.ep.side} got a wrong echo.", expected=_show(bytes(c.out)),
                        got=_show(bytes(c.got)), hint="echo exactly the bytes each client sent "
                                                      "to that client, in order",
                        transcript=transcript)
    if not late:
        return
    names = ", ".join(c.ep.side for c in late)
    if stalled_by:
        raise _fail(f"while {stalled_by} uploaded 1 MiB without reading its echo, {names} "
                    f"did not get their echo: the server was stuck on {stalled_by}.",
                    expected="every other client served while one client is slow",
                    got="; ".join(f"{c.ep.side}: {len(c.got)} of {len(c.out)} bytes"
                                  for c in late),
                    hint="set every connection non-blocking and keep an outgoing buffer per "
                         "connection; send from it when EVENT_WRITE fires (modify the "
                         "registration), and stop reading (EVENT_WRITE only) from a client "
                         "whose buffer is full",
                    transcript=transcript)
    raise _fail(f"{names} did not get their echo while all clients were connected at once.",
                got="; ".join(f"{c.ep.side}: {len(c.got)} of {len(c.out)} bytes" for c in late),
                hint="register every connection with the selector and echo whatever each one "
                     "sends, whichever is ready first",
                transcript=transcript)


def _hang_up_early(ep: Endpoint, transcript: Transcript, dl: Deadline) -> None:
    """The client uploads 128 KiB, shuts down its sending side at once and only then reads.

    The server reads the end of stream while its outgoing buffer still holds
    most of the echo (every send takes at most half, and little fits in the
    buffers): it may drop that rest and close, or send it first; the client
    must receive a prefix of its upload, then the end.
    """
    upload = _BIG[:128 * 1024]
    c = _Client(ep, upload, reading=False)
    _pump([c], lambda: c.off >= len(upload), dl)
    ep.shutdown_wr()
    try:
        got = ep.recv_until_eof(what="the rest of its echo, then the server to close")
    except ConnectionError:
        got = b""
    ep.close()
    if not upload.startswith(got):
        raise _fail(f"{ep.side} sent 128 KiB and closed its sending side at once; what came back "
                    f"is not its data.", expected=f"a prefix of {_show(upload)}", got=_show(got),
                    hint="when recv() returns b'' unregister and close that connection, and do "
                         "nothing more with it in this round (continue)",
                    transcript=transcript)


def check_serve_many(serve_many, n: int = 5, *, edge_cases: bool = True,
                     deadline: float | None = None) -> None:
    """``serve_many(listener, n)``: an echo server for n clients in one thread, with selectors.

    It returns when n clients have come and gone, having closed (and
    unregistered) every connection.  Basic: n clients connected at once,
    then three clients one after another (a closed connection's descriptor
    number is reused).  Edge cases (n=4): one client uploads 1 MiB and does
    not read its echo until the others are served, one sends part of a
    message and resets, two ordinary clients; every send of the server's
    takes at most half.  In every run the server must use one thread.
    """
    what = f"serve_many(listener, {n})"

    selectors_watch = _SelectorWatch(True)

    def concurrent(address, transcript, dl):
        eps = []
        try:
            for i in range(n):
                eps.append(connect(address, transcript, f"client {i + 1}", deadline=dl))
            clients = [_Client(ep, b"client %d says hi" % (i + 1)) for i, ep in enumerate(eps)]
            _pump(clients, lambda: all(c.done for c in clients), dl)
            selectors_watch.idle(scaled(0.1))  # connections with nothing to send: does the server spin?
            _match_connections(clients, listener)
            watch.sample()
            _echo_failures(clients, transcript)
            _finish_clients(eps, transcript)
        finally:
            for ep in eps:
                ep.close()

    watch = _ThreadWatch(serve_many)
    listener = _tight_listener(False)
    _serve_explained(serve_many, concurrent, n, what, deadline, listener, watch, selectors_watch)

    def one_by_one(address, transcript, dl):
        for i in range(3):
            with connect(address, transcript, f"client {i + 1}", deadline=dl) as ep:
                msg = b"one after another %d" % (i + 1)
                got = ep.exchange(msg, len(msg), shutdown=True)
                watch.sample()
                if got != msg:
                    raise _fail(f"client {i + 1} of 3 (one after another) got a wrong echo.",
                                expected=_show(msg), got=_show(got), transcript=transcript)
                ep.recv_until_eof(what="the server to close this connection")

    watch = _ThreadWatch(serve_many)
    _serve_explained(serve_many, one_by_one, 3, "serve_many(listener, 3)", deadline,
                     _tight_listener(False), watch, _SelectorWatch(True))
    if not edge_cases:
        return

    def awkward(address, transcript, dl):
        eps = []
        try:
            hog = connect(address, transcript, "client 1", deadline=dl, rcvbuf=4096)
            eps.append(hog)
            with connect(address, transcript, "client 2", deadline=dl) as gone:
                # Its first echo proves the server accepted it (some systems drop a connection
                # reset while still in the backlog); then it vanishes in the middle of a message.
                first = _Client(gone, b"first part, ", conn=None)
                _pump([first], lambda: first.done, dl)
                _match_connections([None, first], listener)
                _echo_failures([first], transcript)
                # It vanishes in the middle of a message: the server can still read what it
                # sent, but every send to it fails, and so does every recv after that.
                first.conn.dying = True
                gone.sendall(b"and then half a mess")
                gone.reset()
            eps += [connect(address, transcript, f"client {i}", deadline=dl) for i in (3, 4)]
            # One client too many: it must wait in the backlog (the server serves 4).
            extra.append(connect(address, transcript, "client 5 (one too many)", deadline=dl))
            hogc = _Client(hog, _BIG, reading=False)
            others = [_Client(eps[1], (UTF8_TEXT + " #3").encode()),
                      _Client(eps[2], _BIG[:64 * 1024])]
            _pump([hogc] + others, lambda: all(c.done for c in others), dl)
            _match_connections([hogc, None] + others, listener)
            watch.sample()
            _echo_failures(others, transcript, stalled_by="client 1")
            _hang_up_early(eps[2], transcript, dl)
            hogc.reading = True
            _pump([hogc] + others, lambda: hogc.done, dl)
            if not hogc.done or bytes(hogc.got) != _BIG:
                got = bytes(hogc.got)
                raise _fail(f"client 1 got {len(got)} of the {len(_BIG)} bytes of its echo"
                            + (" (wrong bytes)." if got != _BIG[:len(got)] else "."),
                            expected=_show(_BIG), got=_show(got),
                            hint="send() may take only part of the buffer: remove only the n "
                                 "bytes it took (del buf[:n]) and send the rest when the socket "
                                 "is writable again", transcript=transcript)
            _finish_clients(eps, transcript)
        finally:
            for ep in eps + extra:
                ep.close()

    extra: list = []
    watch = _ThreadWatch(serve_many)
    listener = _tight_listener(True)
    _serve_explained(serve_many, awkward, 4, "serve_many(listener, 4)", deadline, listener, watch,
                     _SelectorWatch(True), late=1)


def _relay_expect(ep: Endpoint, line: bytes, sender: str, transcript: Transcript,
                  fragment: bytes = b"", how: str = "") -> None:
    try:
        got = ep.recv_exactly(len(line), what=f"{sender}'s line relayed")
    except EOFError as exc:
        raise _fail(f"{ep.side} should have received {sender}'s line, but the relay closed the "
                    f"connection ({exc}).", expected=_show(line),
                    hint="close a client's connection only when that client has closed "
                         "(recv() returned b'') or failed", transcript=transcript) from exc
    except WaitTimeout as exc:
        raise _fail(f"{ep.side} never received {sender}'s line{how}.", expected=_show(line),
                    hint="when a client's buffer holds a complete line (ending in b'\\n'), "
                         "send it to every other client", transcript=transcript) from exc
    if got == line:
        return
    hint = "relay each complete line unchanged, to every client except the one that sent it"
    if fragment and fragment[:4] in got:
        hint = ("a client closed in the middle of a line and part of that unfinished line was "
                "relayed: keep each client's bytes in its own buffer and relay only complete "
                "lines (up to b'\\n'); drop the unfinished rest when the client goes")
    elif b"\n" in got[:-1] or not got.endswith(b"\n"):
        hint = ("lines were cut or glued: one recv() is not one line. Append what you receive "
                "to that client's buffer and relay each complete line (split on b'\\n'), "
                "keeping an unfinished tail for the next recv()")
    raise _fail(f"{ep.side} should have received {sender}'s line{how}.", expected=_show(line),
                got=_show(got), hint=hint, transcript=transcript)


def check_relay(relay, n: int = 3, *, edge_cases: bool = True, deadline: float | None = None) -> None:
    """``relay(listener, n)``: a line-based chat relay for n clients in one thread.

    It accepts n clients first; then every complete line (ending in
    ``b'\\n'``) a client sends goes, unchanged, to every *other* client still
    connected; it returns when all n have closed.  Basic: three clients take
    turns.  Edge cases (4 clients): two lines in one send, a line dribbled a
    byte at a time, a client that resets, a UTF-8 line, and a client that
    closes in the middle of a line (its fragment must not be relayed).
    """
    def take_turns(address, transcript, dl):
        eps = []
        try:
            eps = [connect(address, transcript, f"client {i + 1}", deadline=dl) for i in range(3)]
            for i, ep in enumerate(eps):
                line = b"hello from client %d\n" % (i + 1)
                ep.sendall(line)
                for other in eps:
                    if other is not ep:
                        _relay_expect(other, line, ep.side, transcript)
            watch.sample()
            _finish_clients(eps, transcript)
        finally:
            for ep in eps:
                ep.close()

    def awkward(address, transcript, dl):
        eps = []
        try:
            eps = [connect(address, transcript, f"client {i + 1}", deadline=dl) for i in range(4)]
            c1, c2, c3, c4 = eps
            steps = [(c1, b"two lines\nin one send\n", None), (c3, b"\n", None), (c2, b"dribbled\n", 1),
                     (c4, None, None),
                     (c3, ("after a reset: " + UTF8_TEXT + "\n").encode(), None)]
            alive = list(eps)
            for sender, line, chunk in steps:
                if line is None:
                    sender.reset()
                    alive.remove(sender)
                    continue
                sender.sendall(line, chunk=chunk, pause=scaled(0.001) if chunk else 0.0)
                how = (" (sent one byte at a time)" if chunk else
                       " (an empty line: just b'\\n', which find() finds at index 0)" if line == b"\n" else
                       " (two lines in one send)" if line.count(b"\n") > 1 else "")
                for other in alive:
                    if other is not sender:
                        _relay_expect(other, line, sender.side, transcript, how=how)
            fragment = b"half a li"
            c1.sendall(fragment)
            c1.close()
            c2.sendall(b"last\n")
            _relay_expect(c3, b"last\n", c2.side, transcript, fragment)
            watch.sample()
            for ep in (c2, c3):
                ep.shutdown_wr()
            for ep in (c2, c3):
                try:
                    tail = ep.recv_until_eof(what="the relay to close this connection")
                except ConnectionError:
                    tail = b""
                if tail:
                    raise _fail(f"{ep.side} received bytes nobody sent as a line.",
                                got=_show(tail),
                                hint="client 1 closed in the middle of a line: relay only "
                                     "complete lines (ending in b'\\n'); drop the unfinished "
                                     "rest when a client goes"
                                if tail.startswith(fragment[:4]) else None,
                                transcript=transcript)
        finally:
            for ep in eps:
                ep.close()

    def reset_while_busy(address, transcript, dl):
        # Client 2 resets while the relay is busy sending client 1's long line to client 3 (who
        # does not read yet), just after client 4 sent a line: the relay then sees client 4's
        # line and client 2's reset in one round, and client 2 leaves while it relays that line.
        eps = []
        try:
            for i, rcvbuf in enumerate((None, 1 << 20, 4096, 1 << 20)):
                eps.append(connect(address, transcript, f"client {i + 1}", deadline=dl, rcvbuf=rcvbuf))
            c1, c2, c3, c4 = eps
            c1.sendall(b"all here?\n")
            for ep in (c2, c3, c4):
                _relay_expect(ep, b"all here?\n", c1.side, transcript)
            conns = list(listener.accepted)
            started = conns[2].send_started = threading.Event()
            long_line = _BIG[:64 * 1024].replace(b"\n", b"-") + b"\n"
            c1.sendall(long_line)
            if not started.wait(dl.remaining()):
                raise _fail("the relay never started to send client 1's line to client 3.",
                            hint="send each complete line to every other client",
                            transcript=transcript)
            c4.sendall(b"from client 4\n")
            c2.reset()
            for ep in (c3, c4):
                _relay_expect(ep, long_line, c1.side, transcript)
            for ep in (c1, c3):
                _relay_expect(ep, b"from client 4\n", c4.side, transcript,
                              how=" (sent while client 2 reset its connection)")
            watch.sample()
            _finish_clients([c1, c3, c4], transcript)
        finally:
            for ep in eps:
                ep.close()

    watch = _ThreadWatch(relay)
    _serve_explained(relay, take_turns, 3, "relay(listener, 3)", deadline,
                     _tight_listener(False), watch)
    if edge_cases:
        watch = _ThreadWatch(relay)
        _serve_explained(relay, awkward, 4, "relay(listener, 4)", deadline,
                         _tight_listener(True), watch)
        watch = _ThreadWatch(relay)
        listener = _tight_listener(False)
        _serve_explained(relay, reset_while_busy, 4, "relay(listener, 4)", deadline, listener, watch)
