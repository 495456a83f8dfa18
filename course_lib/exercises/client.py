"""Helpers for section 04 (client methods and moving bytes).

Why this module exists: the shared :func:`course_lib.checks.check_framing`
checks a *pair* of functions, ``send_msg`` and ``recv_msg``.  The client
notebook grades them as two exercises, so that a learner who gets one half
right earns its points and a wrong answer in one half fails only that
exercise.  Each check here pairs the learner's half with a reference
implementation of the other half and runs the shared check, edge cases
included, so the messages and the transcript are the shared ones.

The reference halves are deliberately plain (they are what the notebook
teaches); they exist only to complete the pair.

:func:`check_request_large_reply` adds the one edge case the shared
``check_request`` lacks: a reply big enough to arrive in many pieces, so a
client that reads the reply with a single ``recv`` is caught.
"""

from __future__ import annotations

import struct

from .. import checks, peers
from ..runners import run_client
from ..timing import DEFAULT_DEADLINE
from ..transcript import abbreviate

__all__ = ["check_send_msg", "check_recv_msg", "check_request_large_reply"]

_HEADER = struct.Struct("!I")


def _reference_send_msg(sock, payload) -> None:
    sock.sendall(_HEADER.pack(len(payload)) + payload)


def _reference_recv_exactly(sock, n: int, allow_eof: bool):
    data = bytearray()
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            if allow_eof and not data:
                return None
            raise EOFError(f"connection closed after {len(data)} of {n} bytes")
        data += chunk
    return bytes(data)


def _reference_recv_msg(sock):
    header = _reference_recv_exactly(sock, _HEADER.size, allow_eof=True)
    if header is None:
        return None
    (length,) = _HEADER.unpack(header)
    return _reference_recv_exactly(sock, length, allow_eof=False)


def check_send_msg(send_msg, *, edge_cases: bool = True, deadline: float | None = None) -> None:
    """Check the learner's ``send_msg(sock, payload)`` (header ``struct '!I'``, then the payload).

    Runs :func:`course_lib.checks.check_framing` with the learner's sender
    and a reference receiver.  Edge cases (shared): short sends, an empty
    payload, 1 MiB, UTF-8.
    """
    checks.check_framing(send_msg, _reference_recv_msg, edge_cases=edge_cases, deadline=deadline)


def check_recv_msg(recv_msg, *, edge_cases: bool = True, deadline: float | None = None) -> None:
    """Check the learner's ``recv_msg(sock)`` (one frame, None on a clean EOF, EOFError mid-frame).

    Runs :func:`course_lib.checks.check_framing` with a reference sender and
    the learner's receiver.  Edge cases (shared): short reads, back-to-back
    frames, an empty payload, 1 MiB, EOF in the header and in the payload.
    """
    checks.check_framing(_reference_send_msg, recv_msg, edge_cases=edge_cases, deadline=deadline)


_LARGE_REPLY = bytes(range(256)) * 4096  # 1 MiB, every byte value


def _large_reply(request: bytes) -> bytes:
    return b"%d bytes received\n" % len(request) + _LARGE_REPLY


def check_request_large_reply(request, *, deadline: float | None = None) -> None:
    """``request(port, data)`` must read a 1 MiB reply to the end, however it is split.

    Why: the shared check's replies are a few dozen bytes, which one
    ``recv`` on loopback always returns whole; a 1 MiB reply cannot fit in
    one ``recv`` call, so a client that stops after the first chunk fails
    here with the transcript.
    """
    seconds = DEFAULT_DEADLINE if deadline is None else deadline
    data = b"send me a large reply"
    what = "request(port, data)"
    with peers.half_close_server(reply=_large_reply, timeout=seconds) as srv:
        got = run_client(request, srv.port, data, peer=srv, deadline=seconds, what=what,
                         expected="to read the whole reply, until recv() returns b''")
    want = _large_reply(data)
    if not isinstance(got, (bytes, bytearray)):
        raise AssertionError(f"{what} should return bytes, got {type(got).__name__}")
    if bytes(got) != want:
        hint = ("it stopped reading too early: a large reply arrives in many pieces, so call "
                "recv() in a loop until it returns b''" if want.startswith(bytes(got))
                else "return exactly the bytes received, in order")
        raise AssertionError(
            f"{what} returned the wrong reply to a request whose reply is {len(want)} bytes.\n"
            f"  expected: {abbreviate(want, 40)}\n"
            f"  got:      {abbreviate(bytes(got), 40)}\n"
            f"Hint: {hint}\nWhat crossed the wire:\n{srv.transcript.format()}")
