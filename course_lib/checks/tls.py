"""Checks of a TLS client (section 07, exercise 5) against a loopback TLS server.

:func:`check_tls_echo` runs the learner's client against a TLS echo server
whose certificate is made at run time with ``trustme`` (never a real CA,
never the network); hidden cases present a wrong name and an unknown CA,
where ``ssl.SSLCertVerificationError`` is the right outcome.
"""

from __future__ import annotations

import contextlib
import select
import socket
import ssl
from typing import Any

from ..failures import exception_name
from .. import faults
from ..endpoint import PeerStopped, WaitTimeout
from ..peers import Peer
from ..resources import record_unclosed
from .drivers import UTF8_TEXT, _attempt, _call, _patience, _timeout_required
from .vocabulary import _closes_its_socket, _fail, _show

_CAS: dict = {}


def loopback_ca(name: str = "course"):
    """A ``trustme.CA`` made on first use (one per ``name``), for loopback tests only.

    Why: TLS needs a certificate authority the client trusts; a real one
    would need the network and a real name.  trustme makes a throwaway CA and
    certificates in memory, in milliseconds.
    """
    if name not in _CAS:
        import trustme
        _CAS[name] = trustme.CA()
    return _CAS[name]


class _TlsEcho(Peer):
    """A TLS echo server on loopback; it sends each reply in ``record``-byte TLS records."""

    def __init__(self, context: ssl.SSLContext, names, record: int | None, cut: int | None = None, **kw):
        super().__init__(**kw)
        self.context, self.names, self.record, self.cut = context, names, record, cut

    def _wait(self, sock, read: bool = True, write: bool = False) -> None:
        rl = [sock, self._stop] if read else [self._stop]
        r, w, _ = select.select(rl, [sock] if write else [], [], self.timeout)
        if self._stop in r:
            raise PeerStopped()
        if not r and not w:
            raise WaitTimeout(f"server waited {self.timeout:.2f} s")

    def _retry(self, tls, fn, *args):
        while True:
            try:
                return fn(*args)
            except ssl.SSLWantReadError:
                if tls.pending():  # pragma: no cover - data already decrypted
                    continue
                self._wait(tls)
            except ssl.SSLWantWriteError:  # pragma: no cover - small records on loopback
                self._wait(tls, read=False, write=True)

    def _connection(self, conn) -> None:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # no 40 ms Nagle stalls
        conn.setblocking(False)
        try:
            tls = self.context.wrap_socket(conn, server_side=True, do_handshake_on_connect=False)
        except BaseException:  # pragma: no cover - wrapping a fresh socket does not fail
            conn.close()
            raise
        with tls:
            try:
                self._retry(tls, tls.do_handshake)
            except (ssl.SSLError, OSError) as exc:
                self.transcript.note(self.side, f"TLS handshake failed: {exc}")
                return
            self.transcript.note(self.side, f"TLS handshake done ({tls.version()}); it showed "
                                            f"a certificate for {', '.join(self.names)}")
            while True:
                try:
                    data = self._retry(tls, tls.recv, 65536)
                except (ssl.SSLEOFError, ConnectionError):
                    data = b""
                self.transcript.received(self.side, data)
                if not data:
                    return
                if self.cut is not None:
                    data = data[:self.cut]
                    self.cut -= len(data)
                step = self.record or len(data)
                for k in range(0, len(data), step):
                    piece = data[k:k + step]
                    sent = 0
                    while sent < len(piece):
                        sent += self._retry(tls, tls.send, piece[sent:])
                    self.transcript.sent(self.side, piece)
                if self.cut == 0:
                    self.transcript.note(self.side, "closes the connection in the middle of the echo")
                    return


@contextlib.contextmanager
def tls_server(names=("localhost",), ca=None, record: int | None = None, **kw):
    """A TLS echo server on 127.0.0.1 with a certificate for ``names`` signed by ``ca``.

    Yields the running peer; ``.cafile`` is the path of a PEM file with the
    CA the client should trust (the course CA, whatever signed the server's
    certificate), valid inside the block.  ``record`` splits each echo into
    TLS records of that many bytes; ``cut=k`` echoes only k bytes, then closes.
    """
    trusted = loopback_ca()
    ca = trusted if ca is None else ca
    cert = ca.issue_cert(*names)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    with cert.private_key_and_cert_chain_pem.tempfile() as chain:
        context.load_cert_chain(chain)
    with trusted.cert_pem.tempfile() as cafile, _TlsEcho(context, names, record, **kw) as srv:
        srv.cafile = cafile
        yield srv


@contextlib.contextmanager
def _short_tls_sends():
    """Every ``SSLSocket.send()`` the learner's code makes sends at most half of its data.

    Why: like ``socket.send``, ``SSLSocket.send`` returns how many bytes it
    took and may take fewer than it was given; CPython's happens to take
    everything on a blocking socket, so ``send`` where ``sendall`` is needed
    passes by luck.  ``sendall`` (which loops over ``send``) still sends all.
    Yields a counter of short sends made.
    """
    real = ssl.SSLSocket.send
    made = [0]

    def send(self, data, flags=0):
        if faults.called_by_learner():
            try:
                view = memoryview(data).cast("B")
            except TypeError:
                return real(self, data, flags)  # the usual "bytes-like object is required"
            if len(view) > 1:
                made[0] += 1
                return real(self, view[:len(view) // 2], flags)
        return real(self, data, flags)

    with faults._override(ssl.SSLSocket, "send", send):
        yield made


@contextlib.contextmanager
def _to_a_silent_server(port: int):
    """The arguments of tls_echo to a server that accepts and never answers (its handshake waits)."""
    with loopback_ca().cert_pem.tempfile() as cafile:
        yield port, "localhost", cafile, b"anyone?"


@_timeout_required("tls_echo(port, server_name, cafile, message)", "connect", silent=_to_a_silent_server)
def check_tls_echo(tls_echo, *, edge_cases: bool = True, deadline: float | None = None) -> None:
    """``tls_echo(port, server_name, cafile, message) -> bytes`` over TLS on 127.0.0.1.

    The client trusts only ``cafile``, checks that the certificate is for
    ``server_name``, sends ``message`` and returns the echo (exactly
    ``len(message)`` bytes).  Basic: a certificate for 'localhost'.  Edge
    cases: a 4 KiB echo in 100-byte TLS records, a second call, a server
    whose certificate is for another name, and one signed by an unknown CA
    (ssl.SSLCertVerificationError expected in both); the socket must be
    closed in every case; every ``send`` of the 4 KiB case takes at most
    half, a server that closes after half the echo must end in EOFError
    (not a loop that never ends), and the connection must have a timeout.
    """
    what = "tls_echo(port, server_name, cafile, message)"
    cases: list[tuple[str, Any, int | None, bytes]] = [("localhost", None, None, b"hello over TLS")]
    if edge_cases:
        big = (UTF8_TEXT.encode() + b" ") * 128
        cases += [("localhost", None, 100, big), ("localhost", None, None, b"second call")]
    for name, ca, record, message in cases:
        with tls_server((name,), ca, record, timeout=_patience(deadline)) as srv, \
                record_unclosed() as unclosed, \
                (_short_tls_sends() if record else contextlib.nullcontext([0])) as shorts:
            try:
                got = _call(tls_echo, srv.port, "localhost", srv.cafile, message, what=what,
                            deadline=deadline, peer=srv,
                            expected="a verified TLS connection and the echo of the message",
                            hint="ctx = ssl.create_default_context(cafile=cafile); "
                                 "ctx.wrap_socket(sock, server_hostname=server_name)")
            except AssertionError as exc:
                if shorts[0] and len(srv.received) < len(message):
                    raise _fail(f"the server received only {len(srv.received)} of the "
                                f"{len(message)} bytes of the message, so the echo never came "
                                f"complete.", expected=_show(message), got=_show(srv.received),
                                hint="SSLSocket.send() may send only part of the data (it returns "
                                     "how many bytes it took); use sendall()",
                                transcript=srv.transcript) from None
                raise (_tls_explained(exc, what, srv) or exc) from None
        if not isinstance(got, (bytes, bytearray)) or bytes(got) != message:
            short = isinstance(got, (bytes, bytearray)) and message.startswith(bytes(got))
            raise _fail(f"{what} returned the wrong echo"
                        + (f" (the first {len(got)} of {len(message)} bytes)." if short else "."),
                        expected=_show(message), got=_show(got),
                        hint="TLS is still a byte stream: the echo can arrive in several "
                             "records, and one recv() returns at most one; loop until you have "
                             "len(message) bytes" if short else None,
                        transcript=srv.transcript)
        _closes_its_socket(unclosed, what, srv.transcript)
    if not edge_cases:
        return
    _tls_cut_short(tls_echo, what, deadline)
    for names, ca, problem in ((("wrong.example",), None, "is for 'wrong.example'"),
                               (("localhost",), loopback_ca("stranger"),
                                "is signed by a CA the client does not trust")):
        with tls_server(names, ca, timeout=_patience(deadline)) as srv, \
                record_unclosed() as unclosed:
            got, error = _attempt(tls_echo, srv.port, "localhost", srv.cafile, b"secret",
                                what=what, deadline=deadline, peer=srv)
        if error is None:
            raise _fail(f"the server's certificate {problem}, but {what} went ahead and "
                        f"returned {_show(got)}.",
                        expected="ssl.SSLCertVerificationError (the client must refuse)",
                        hint="do not switch off verification: keep check_hostname=True and "
                             "verify_mode=CERT_REQUIRED (create_default_context sets both) "
                             "and pass server_hostname=server_name to wrap_socket",
                        transcript=srv.transcript)
        if not isinstance(error, ssl.SSLCertVerificationError):
            raise _fail(f"the server's certificate {problem}, and {what} raised "
                        f"{exception_name(error)}: {error}.",
                        expected="ssl.SSLCertVerificationError, let through unchanged",
                        transcript=srv.transcript)
        if srv.received:
            raise _fail(f"the server's certificate {problem}, but the client sent it "
                        f"{_show(srv.received)}.", expected="nothing sent before verification",
                        transcript=srv.transcript)
        _closes_its_socket(unclosed, f"{what} (failed handshake)", srv.transcript)


def _tls_cut_short(tls_echo, what: str, deadline) -> None:
    """A server that closes after half the echo: the client must stop with EOFError, not spin."""
    message = b"the server will hang up halfway through this echo"
    half = len(message) // 2
    with tls_server(cut=half, timeout=_patience(deadline)) as srv, record_unclosed() as unclosed:
        got, exc = _attempt(tls_echo, srv.port, "localhost", srv.cafile, message, what=what,
                            deadline=deadline, peer=srv,
                            expected="EOFError once recv() returns b'' (the server has closed)",
                            hint="recv() returns b'' when the server has closed: stop and raise "
                                 "EOFError, or the loop asks for the rest for ever")
    if exc is None:
        raise _fail(f"the server closed after echoing {half} of {len(message)} bytes, and {what} "
                    f"returned {_show(got)}.", expected="EOFError (the echo is incomplete)",
                    hint="when recv() returns b'' before you have len(message) bytes, raise "
                         "EOFError", transcript=srv.transcript)
    if not isinstance(exc, (EOFError, ConnectionError, ssl.SSLError)):
        raise _fail(f"the server closed after echoing {half} of {len(message)} bytes, and {what} "
                    f"raised {exception_name(exc)}: {exc}.", expected="EOFError",
                    hint="when recv() returns b'' before you have len(message) bytes, raise "
                         "EOFError", transcript=srv.transcript)
    _closes_its_socket(unclosed, f"{what} (server closed early)", srv.transcript)


def _tls_explained(exc: AssertionError, what: str, srv):
    cause = exc.__cause__
    if isinstance(cause, ssl.SSLCertVerificationError):
        return _fail(f"{what} refused the course server's valid certificate: {cause}.",
                     hint="trust the CA in cafile (create_default_context(cafile=cafile)) and "
                          "verify the name the caller gave (server_hostname=server_name, not "
                          "the IP address)", transcript=srv.transcript)
    if isinstance(cause, ValueError) and "server_hostname" in str(cause):
        return _fail(f"{what} raised ValueError: {cause}.",
                     hint="pass server_hostname=server_name to wrap_socket: it is the name the "
                          "certificate must match (and is sent to the server in the handshake)",
                     transcript=srv.transcript)
    return None
