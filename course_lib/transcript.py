"""A record of what crossed the wire, for failure messages learners can read.

Why this module exists: "expected b'hello', got b'hel'" rarely tells a
learner *why*; the sequence of events on both sides does ("your client sent
b'hello' and then waited; the server never saw a newline").  Reference peers
and the harness record every send, receive, half-close, close, reset and
timeout here, in order, from several threads; :meth:`Transcript.format`
renders it compactly, abbreviating megabyte payloads to head…tail.
"""

from __future__ import annotations

import threading
import time
from typing import Union

__all__ = ["BytesLike", "Event", "Transcript", "abbreviate", "show", "KINDS"]

#: What a socket sends or receives: bytes, or a buffer holding them.
BytesLike = Union[bytes, bytearray, memoryview]

#: Event kinds.  "sent"/"received" carry bytes; "eof" means recv() returned
#: b'' (the other side closed or shut down writing); "shutdown" is
#: shutdown(SHUT_WR); "note" carries free text (e.g. "accepted a connection").
KINDS = ("sent", "received", "eof", "shutdown", "close", "reset", "timeout",
         "error", "note")
_DATA_KINDS = ("sent", "received")


def abbreviate(data: BytesLike, limit: int = 64) -> str:
    """Render bytes readably, shortening long payloads to head…tail.

    Why: a 1 MiB payload pasted into an AssertionError buries the message;
    the first and last few bytes plus the total length are what a learner
    needs, e.g. ``b'aaaa'…(1048576 bytes)…b'aaaa'``.
    """
    data = bytes(data)
    if len(data) <= limit:
        return repr(data)
    half = max(1, limit // 2)
    return f"{data[:half]!r}…({len(data)} bytes)…{data[-half:]!r}"


def show(value: object, limit: int = 40, *, typed: bool = False) -> str:
    """The one way the course renders a value for a learner.

    Bytes are abbreviated (:func:`abbreviate`) and counted, e.g. ``b'hi' (2 bytes)``;
    a tuple or list holding bytes is rendered item by item, so a long payload
    inside a result stays short; anything else is its ``repr``, followed by
    its type with ``typed`` (``'5' (str)``), which tells ``1`` from ``'1'``.
    Sockets show their addresses in their ``repr``.
    """
    if isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value)
        n = len(data)
        return abbreviate(data, limit) + (f" ({n} byte{'s' if n != 1 else ''})" if n <= limit else "")
    if isinstance(value, (tuple, list)) and any(isinstance(v, (bytes, bytearray)) for v in value):
        items = ", ".join(show(v, limit) for v in value)
        text = f"({items}{',' if len(value) == 1 else ''})" if isinstance(value, tuple) else f"[{items}]"
    else:
        text = repr(value)
    return f"{text} ({type(value).__name__})" if typed else text


class Event:
    """One thing that happened on one side of a connection.

    Consecutive data events of the same side and kind are merged as they are
    recorded (a 1-byte dribble of 1000 bytes is one event "in 1000 pieces"),
    which keeps transcripts short while still telling how the bytes arrived.
    """

    __slots__ = ("side", "kind", "data", "text", "pieces", "time")

    def __init__(self, side: str, kind: str, data: BytesLike = b"", text: str = "") -> None:
        self.side = side
        self.kind = kind
        self.data = bytearray(data)
        self.text = text
        self.pieces = 1
        self.time = time.monotonic()

    def render(self, limit: int = 40) -> str:
        """One line, e.g. ``server   sent      b'hi' (2 bytes)``."""
        line = f"{self.side:<10} {self.kind:<9}"
        if self.kind in _DATA_KINDS:
            line += f" {show(self.data, limit)}"
            if self.pieces > 1:
                line += f" in {self.pieces} pieces"
        if self.text:
            line += f" {self.text}"
        return line.rstrip()

    def __repr__(self) -> str:
        return f"<Event {self.render()}>"


class Transcript:
    """Thread-safe, ordered record of events per side.

    Why: the reference peer's thread, the harness and the learner's thread
    all record into one transcript; a lock keeps the order true.  Sides are
    free-form labels: "client", "server", "peer", "learner", "client 3".
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: list = []

    # -- recording -------------------------------------------------------
    def record(self, side: str, kind: str, data: BytesLike = b"", text: str = "") -> None:
        """Append an event (merging consecutive data of the same side/kind)."""
        if kind not in KINDS:
            raise ValueError(f"unknown event kind {kind!r}")
        with self._lock:
            last = self._events[-1] if self._events else None
            if (kind in _DATA_KINDS and last is not None and last.side == side
                    and last.kind == kind and not text and not last.text):
                last.data += data
                last.pieces += 1
                return
            self._events.append(Event(side, kind, data, text))

    def sent(self, side: str, data: BytesLike) -> None:
        """Record that ``side`` sent ``data``."""
        self.record(side, "sent", data)

    def received(self, side: str, data: BytesLike) -> None:
        """Record that ``side`` received ``data`` (b'' is recorded as EOF)."""
        if data:
            self.record(side, "received", data)
        else:
            self.eof(side)

    def eof(self, side: str) -> None:
        """Record that ``side``'s recv() returned b'' (end of the other side's data)."""
        self.record(side, "eof", text="(recv returned b'': the other side finished sending)")

    def shutdown(self, side: str) -> None:
        """Record that ``side`` called shutdown(SHUT_WR)."""
        self.record(side, "shutdown", text="(SHUT_WR: finished sending)")

    def close(self, side: str) -> None:
        """Record that ``side`` closed its socket."""
        self.record(side, "close")

    def reset(self, side: str, text: str = "") -> None:
        """Record a connection reset (sent or seen by ``side``)."""
        self.record(side, "reset", text=text)

    def timeout(self, side: str, text: str = "") -> None:
        """Record that ``side`` gave up waiting."""
        self.record(side, "timeout", text=text)

    def error(self, side: str, exc: BaseException) -> None:
        """Record an exception raised on ``side``."""
        self.record(side, "error", text=f"{type(exc).__name__}: {exc}")

    def note(self, side: str, text: str) -> None:
        """Record free text, e.g. "accepted a connection"."""
        self.record(side, "note", text=text)

    # -- reading ---------------------------------------------------------
    @property
    def events(self) -> list:
        """A snapshot list of the events so far."""
        with self._lock:
            return list(self._events)

    def __len__(self) -> int:
        with self._lock:
            return len(self._events)

    def _concat(self, side: str, kind: str) -> bytes:
        return b"".join(bytes(e.data) for e in self.events if e.side == side and e.kind == kind)

    def sent_by(self, side: str) -> bytes:
        """All bytes ``side`` sent, concatenated."""
        return self._concat(side, "sent")

    def received_by(self, side: str) -> bytes:
        """All bytes ``side`` received, concatenated."""
        return self._concat(side, "received")

    def has(self, side: str, kind: str) -> bool:
        """True if ``side`` recorded an event of ``kind``."""
        return any(e.side == side and e.kind == kind for e in self.events)

    def format(self, limit: int = 40, max_events: int = 30) -> str:
        """Render the events one per line, abbreviating long payloads.

        ``limit`` is the number of bytes shown per payload before it is cut
        to head…tail; with more than ``max_events`` events the middle ones
        are elided, since the start and the end are where failures show.
        """
        events = self.events
        if not events:
            return "  (nothing was sent or received)"
        lines = [e.render(limit) for e in events]
        if len(lines) > max_events:
            head = max_events // 2
            tail = max_events - head
            lines = lines[:head] + [f"… {len(lines) - max_events} more events …"] + lines[-tail:]
        return "\n".join("  " + line for line in lines)

    def __str__(self) -> str:
        return self.format()
