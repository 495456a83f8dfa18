"""Helpers for section 03 (server methods).

Why this module exists: the shared server checks catch a serving loop that
calls ``recv`` only once per connection, but only inside their larger
scenarios, where the failure surfaces as the reference client's connection
error (ENOTCONN, ECONNRESET) rather than as the mistake behind it.
:func:`check_large_upload` runs that one scenario on its own (one client
uploads 256 KiB and half-closes) and, when the echo comes back short, says
how much came back and why, with the transcript.  The notebook's hidden test
cells run it before the shared check.
"""

from __future__ import annotations

from .. import peers
from ..runners import run_server
from ..timing import DEFAULT_DEADLINE
from ..transcript import abbreviate

__all__ = ["check_large_upload"]

_UPLOAD = bytes(range(256)) * 1024  # 256 KiB, every byte value


def check_large_upload(server_fn, *args, what: str | None = None,
                       deadline: float | None = None) -> None:
    """``server_fn(listener, *args)`` must echo a 256 KiB upload from one client completely.

    The client sends while it reads (so a correct echo server never
    deadlocks), half-closes when everything is sent, and reads until EOF.
    ``args`` are passed after the listener; they must make ``server_fn``
    serve exactly one client (e.g. ``n=1``).
    """
    seconds = DEFAULT_DEADLINE if deadline is None else deadline
    what = what or f"{getattr(server_fn, '__name__', 'your server')}(listener" + \
        "".join(f", {a!r}" for a in args) + ")"
    outcome = {}

    def script(address, transcript, dl):
        try:
            with peers.connect(address, transcript, deadline=dl) as ep:
                got = ep.exchange(_UPLOAD, len(_UPLOAD), shutdown=True)
                if not ep.eof:
                    got += ep.recv_until_eof(what="the server to close after the echo")
                outcome["got"] = got
        except (peers.WaitTimeout, EOFError, OSError) as exc:
            outcome["error"] = exc
        outcome["echoed"] = transcript.received_by("client")
        outcome["transcript"] = transcript

    run = run_server(server_fn, script, *args, deadline=seconds, what=what,
                     expected="to echo all 256 KiB, then close once the client has closed")
    echoed = outcome.get("echoed", b"")
    if run.unclosed:
        raise AssertionError(f"{what} returned while the connection it accepted was still open "
                             f"(after echoing {len(echoed)} of {len(_UPLOAD)} bytes).\n"
                             f"Hint: finish serving before returning (join the threads you "
                             f"started), and close each connection (`with conn:` does it)\n"
                             f"What crossed the wire:\n{run.transcript.format()}")
    if echoed != _UPLOAD:
        if _UPLOAD.startswith(echoed):
            happened = (f"{what} echoed only {len(echoed)} of the {len(_UPLOAD)} bytes one "
                        f"client uploaded, then closed the connection.")
            hint = ("a large upload arrives in many pieces, and one recv() returns only the "
                    "first; keep calling recv() (and sendall() each piece) until recv() "
                    "returns b''")
        else:
            happened = f"{what} echoed different bytes than the client uploaded."
            hint = "echo exactly the bytes you receive, in order, with sendall()"
        raise AssertionError(f"{happened}\n  expected: {abbreviate(_UPLOAD, 40)}\n"
                             f"  got:      {abbreviate(echoed, 40)}\nHint: {hint}\n"
                             f"What crossed the wire:\n{run.transcript.format()}")
