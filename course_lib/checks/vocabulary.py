"""The failure vocabulary every check speaks: one way to fail, show a value, explain an exception.

Why this module exists: a failing check says what was expected, what
happened and the bytes on the wire, in the learner's terms; building those
messages in one place keeps them alike across sections.  ``_fail`` builds
the :class:`~course_lib.failures.CheckFailure` every check raises, ``_show``
renders a value, ``_explain`` turns a learner's exception into the socket
mistake behind it, and the hints that several checks give live here.
"""

from __future__ import annotations

import socket

from ..failures import CheckFailure, exception_name
from ..probes import errno_name
from ..transcript import Transcript, show


def _fail(happened: str, *, expected=None, got=None, hint: str | None = None,
          transcript: Transcript | None = None) -> AssertionError:
    """Build the AssertionError every check raises: what, expected, got, hint, the exchange."""
    return CheckFailure(happened, expected=expected, got=got, hint=hint, transcript=transcript)


_SENDALL_HINT = ("send() may send only part of the data (it returns how many bytes it sent, and "
                 "the rest is never sent); use sendall()")


def _show(value) -> str:
    """A value as a failure shows it: :func:`course_lib.transcript.show`, with the type of anything but bytes."""
    return show(value, 40, typed=not isinstance(value, (bytes, bytearray, memoryview)))


def _explain(exc: BaseException, what: str, transcript: Transcript | None = None) -> BaseException:
    """Translate a learner's exception into a message about the socket mistake behind it.

    NotImplementedError (the blank stub) and AssertionErrors pass through
    unchanged; everything else becomes an AssertionError chained to it.
    """
    if isinstance(exc, (NotImplementedError, AssertionError)):
        return exc
    text = str(exc)
    if isinstance(exc, TypeError) and "str" in text and ("bytes" in text or "buffer" in text):
        hint: str | None = ("send() needs bytes, not str: encode text first (e.g. reply.encode()) and "
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
    new = _fail(f"{what} raised {exception_name(exc)}: {text}", hint=hint, transcript=transcript)
    new.__cause__ = exc
    return new


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


def _expect_bytes(value, what: str) -> None:
    if isinstance(value, str):
        raise _fail(f"{what} returned a str; sockets carry bytes.", got=_show(value),
                    hint="return the bytes you received (do not decode them)")
    if not isinstance(value, (bytes, bytearray)):
        raise _fail(f"{what} should return bytes.", got=_show(value))


_NOT_NOW = ("BlockingIOError means 'not now', not 'failed': keep what was not sent and try again "
            "when the selector (or select) says the socket is writable")
