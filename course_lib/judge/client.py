"""The judge's side of the channel: proxies that call the learner's functions in the kernel.

A `Client` owns the accepted connection and a reader thread that hands each answer to the call waiting
for it. `LearnerFunction` is what a test cell sees under the learner's name: calling it sends the
arguments (sockets as descriptors) and waits for the answer, at most until the cell's deadline. After a
call the judge mirrors what the learner did to the arguments: a socket the learner closed is closed here
too (so a peer sees EOF, and `fileno()` says -1 as it would in the kernel), its timeout is copied, and a
buffer it filled is filled here. The value returned is decoded as plain data; a socket comes back as a
descriptor the judge then owns.
"""
from __future__ import annotations

import contextlib
import itertools
import os
import stat
import socket
import threading
import time
from typing import Any

from . import wire

COUNTERS = ("short_sends_made", "bytes_sent", "bytes_received")


class JudgeTimeout(AssertionError):
    """The learner's function gave no answer before the deadline (an AssertionError: a failed test)."""


class ChannelBroken(AssertionError):
    """The channel into the kernel failed (the agent broke the protocol, or the kernel went away)."""


class Unjudgeable(BaseException):
    """The test wraps this call in a fault that cannot be reproduced in the kernel (a callable `when`):
    the cell is left to the notebook's own verdict. A BaseException, so that no check mistakes it for
    the learner's error."""


class _Slot:
    def __init__(self, arguments: list) -> None:
        self.done = threading.Event()
        self.message: dict | None = None
        self.fds: list = []
        self.arguments = arguments


class Client:
    def __init__(self, sock: socket.socket) -> None:
        self.channel = wire.Channel(sock)
        self.pending: dict[int, _Slot] = {}
        self.lock = threading.Lock()
        self.ids = itertools.count(1)
        self.broken: str | None = None
        self.deadline = float("inf")  # monotonic time by which every answer must have come (the cell's)
        self.unjudgeable: str | None = None  # why the current cell cannot be judged here
        self.reader = threading.Thread(target=self._read, name="judge-reader", daemon=True)
        self.reader.start()

    def _read(self) -> None:
        reason = "the kernel closed the channel"
        try:
            while True:
                message, fds = self.channel.recv()
                ident = message.get("id")
                with self.lock:
                    slot = self.pending.pop(ident, None) if isinstance(ident, int) else None
                if slot is None:
                    wire.close_fds(fds)
                    if not isinstance(ident, int):
                        raise wire.ProtocolError("an answer with no id")
                    continue  # the answer to a call the judge abandoned
                slot.message, slot.fds = message, fds
                slot.done.set()
        except wire.Closed:
            pass
        except wire.ProtocolError as exc:
            reason = f"the kernel's agent broke the protocol: {exc}"
        except OSError as exc:
            reason = f"the channel failed: {exc.strerror or exc}"
        self._break(reason)

    def _break(self, reason: str) -> None:
        with self.lock:
            if self.broken is None:
                self.broken = reason
            slots, self.pending = list(self.pending.values()), {}
        for slot in slots:
            slot.done.set()

    def close(self) -> None:
        self._break("the judge closed the channel")
        self.channel.close()
        self.reader.join(2.0)

    def request(self, message: dict, fds: list[int] = (), arguments: list = ()) -> tuple[dict, list]:  # type: ignore[assignment]
        """Send `message` and wait for its answer (at most until self.deadline)."""
        if self.broken:
            raise ChannelBroken(self.broken)
        ident = next(self.ids)
        slot = _Slot(list(arguments))
        with self.lock:
            self.pending[ident] = slot
        try:
            self.channel.send({**message, "id": ident}, fds)
        except (OSError, wire.ProtocolError) as exc:
            with self.lock:
                self.pending.pop(ident, None)
            if isinstance(exc, wire.ProtocolError):
                raise TypeError(str(exc)) from None
            self._break(f"the channel failed: {exc}")
            raise ChannelBroken(self.broken) from None
        answered = False
        try:
            # short waits: an interrupt (a check abandoning this call, a cell's alarm) gets through
            while not slot.done.wait(0.05):
                if time.monotonic() > self.deadline:
                    raise JudgeTimeout("no answer from the learner's function before the test's deadline")
            answered = True
        finally:
            if not answered:
                with self.lock:
                    self.pending.pop(ident, None)
                if message.get("op") == "call" and not self.broken:
                    try:
                        self.channel.send({"op": "abandon", "id": ident})
                    except (OSError, wire.ProtocolError):
                        pass
        if slot.message is None:
            raise ChannelBroken(self.broken or "no answer")
        return slot.message, slot.fds

    def lookup(self, names: list[str]) -> dict[str, Any]:
        message, fds = self.request({"op": "lookup", "names": names})
        wire.close_fds(fds)
        found = wire.decode(message.get("value"), [])
        if not isinstance(found, dict):
            raise ChannelBroken("the kernel's agent broke the protocol: a bad lookup answer")
        return found

    def call(self, name: str, args: tuple, kwargs: dict) -> Any:
        from .. import faults

        _share_scratch()
        forwards = faults.active()
        specs = [f.describe() for f in forwards]
        if None in specs:
            self.unjudgeable = f"{name}() is tested under a fault the kernel cannot be given as data"
            raise Unjudgeable(self.unjudgeable)
        encoder = wire.Encoder()
        encoded_args = encoder.encode(list(args))
        encoded_kwargs = encoder.encode(dict(kwargs))["$dict"]
        encoded_faults = encoder.encode(specs)
        arguments = [*args, *kwargs.values()]
        message, fds = self.request({"op": "call", "name": name, "args": encoded_args, "kwargs": encoded_kwargs,
                                     "faults": encoded_faults}, encoder.fds, arguments)
        try:
            _mirror(arguments, message.get("after"), fds)
            seen = message.get("faults")
            if isinstance(seen, list) and len(seen) == len(forwards):
                for forward, result in zip(forwards, seen, strict=True):
                    if forward.merge is not None and result is not None:
                        forward.merge(wire.decode(result, []))
            if message.get("ok") is True:
                return wire.decode(message.get("value"), fds)
            if message.get("ok") is False:
                error = message.get("error")
                injected = error.get("injected") if isinstance(error, dict) else None
                if isinstance(injected, int) and 0 <= injected < len(forwards) and forwards[injected].error:
                    raise forwards[injected].error  # the very exception the test injected, as in the kernel
                raise wire.rebuild_exception(error)
            raise wire.ProtocolError("an answer that is neither a value nor an error")
        except wire.ProtocolError as exc:
            self._break(f"the kernel's agent broke the protocol: {exc}")
            raise ChannelBroken(self.broken) from None
        finally:
            wire.close_fds(fds)


def _share_scratch() -> None:
    """Let the kernel read (and connect to) what the tests made in the judge's scratch folder.

    The folder is mounted read-only in the jail at the same path; the files in it were made by the
    judge (as root when grading runs as root) with private modes: a file the learner's function is to
    send, a CA file, an AF_UNIX path. Nothing else of the judge's is there.
    """
    scratch = os.environ.get("SOCKET_COURSE_JUDGE_SCRATCH")
    if not scratch or os.environ.get("TMPDIR") != scratch:
        return
    for top, dirs, files in os.walk(scratch):
        for name in dirs:
            with contextlib.suppress(OSError):
                os.chmod(os.path.join(top, name), 0o755, follow_symlinks=False)
        for name in files:
            path = os.path.join(top, name)
            with contextlib.suppress(OSError):
                if not os.path.islink(path):
                    os.chmod(path, 0o777 if stat.S_ISSOCK(os.lstat(path).st_mode) else 0o644)


def _counters(sock, state: dict) -> None:
    counters = state.get("counters")
    if isinstance(counters, dict):
        for key in COUNTERS:
            if isinstance(counters.get(key), int) and hasattr(sock, key):
                setattr(sock, key, counters[key])


def _mirror(arguments: list, after: Any, fds: list) -> None:
    """Do to the judge's arguments what the learner did to its copies: close, timeout, buffer contents;
    a HarnessSocket's counters and the connections accepted from it in the kernel."""
    from ..runners import HarnessSocket

    if not isinstance(after, list) or len(after) != len(arguments):
        return
    for arg, state in zip(arguments, after, strict=True):
        if not isinstance(state, dict):
            continue
        if isinstance(arg, HarnessSocket):
            _counters(arg, state)
            for item in state.get("accepted") or []:
                if not isinstance(item, dict):
                    continue
                conn = wire.decode(item.get("conn"), fds, harness=HarnessSocket) if item.get("conn") else None
                if not isinstance(conn, HarnessSocket):
                    conn = HarnessSocket(arg.family, socket.SOCK_STREAM)
                    conn.close()  # the learner closed it: here too, so fileno() says -1
                _counters(conn, item)
                arg.accepted.append(conn)
        if isinstance(arg, socket.socket) and state.get("socket"):
            if state.get("closed") is True:
                arg.close()
            elif arg.fileno() != -1:
                timeout = state.get("timeout")
                if timeout is None or (isinstance(timeout, (int, float)) and timeout >= 0):
                    arg.settimeout(timeout)
        elif isinstance(arg, (bytearray, memoryview)) and "bytes" in state:
            data = wire.decode(state["bytes"], [])
            if isinstance(data, bytes) and isinstance(arg, bytearray):
                arg[:] = data  # the learner may have filled it, or taken bytes off its front
            elif isinstance(data, bytes) and isinstance(arg, memoryview) and len(data) == len(arg) and not arg.readonly:
                arg[:] = data


class LearnerFunction:
    """Stands, in the judge, for a function (or class) the learner defined in the kernel."""

    def __init__(self, client: Client, name: str) -> None:
        self._client = client
        self.__name__ = self.__qualname__ = name

    def __call__(self, *args, **kwargs):
        return self._client.call(self.__name__, args, kwargs)

    def __repr__(self) -> str:
        return f"<function {self.__name__} (in the kernel)>"
