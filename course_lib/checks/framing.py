"""Byte-level checks over a socketpair (``_learner_io``): framing and recv_into.

The learner's function works on one end of a (shaped) socketpair while a
reference reader or writer drives the other end.
"""

from __future__ import annotations

import socket
import struct

from ..failures import exception_name
from ..endpoint import Endpoint, WaitTimeout
from ..runners import shape
from ..timing import Deadline
from ..transcript import Transcript, abbreviate
from .drivers import _BIG, UTF8_TEXT, _learner_io, _seconds
from .vocabulary import _fail, _show


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
            raise _fail(f"{what} call {len(results) + 1} raised {exception_name(cause)}: {cause} "
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
