"""The judge's side of the channel: proxies that call the learner's functions in the kernel.

A `Client` owns the accepted connection and a reader thread that hands each answer to the call waiting
for it. `LearnerFunction` is what a test cell sees under the learner's name: calling it sends the
arguments (sockets as descriptors) and waits for the answer, at most until the cell's deadline. After a
call the judge mirrors what the learner did to the arguments: a socket the learner closed is closed here
too (so a peer sees EOF, and `fileno()` says -1 as it would in the kernel), its timeout is copied, and a
buffer it filled is filled here. The value returned is decoded as plain data; a socket comes back as a
descriptor the judge then owns; a context manager comes back as a `RemoteObject` whose `__enter__` and
`__exit__` run in the kernel. `KernelProcess` is the judge's view of the kernel's process for the checks
that look at it (course_lib/learner.py): descriptor numbers read from /proc/<kernel pid>/fd, the default
socket timeout read from the wait of a socket made there (procfs.waiting_on), its threads and CPU time.
"""
from __future__ import annotations

import contextlib
import fcntl
import functools
import itertools
import os
import socket
import stat
import threading
import time
from typing import Any, Callable

from . import procfs, wire, wiretap

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
        self.then: Callable[[_Slot], None] | None = None  # run by the reader when the answer comes (no thread waits)


class Client:
    def __init__(self, sock: socket.socket, pid: int | None = None, private_network: bool = False) -> None:
        self.pid = pid  # the kernel's process (SO_PEERCRED): its /proc/<pid>/fd is read, never written
        # the kernel has a network of its own (sandboxed): what happens in it during a call is the call's
        self.private_network = private_network
        self.holding = False  # calls keep their sockets open in the kernel until /proc is read (numbering)
        self.fd_table: dict[int, str] | None = None  # the kernel's descriptors after the last held call
        self.given: list[tuple[Any, Any]] = []  # (argument, the number the agent says it had) of the last call
        self.crossed: set[str] = set()  # `socket:[inode]` of every socket sent to the kernel or received from it
        self.returned: list[tuple[Any, Any]] = []  # (socket returned, the number the agent says it has there)
        self.process = KernelProcess(self)
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
                self._note_crossing(fds)
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
                if slot.then is not None:
                    slot.then(slot)
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

    def _note_crossing(self, fds) -> None:
        """Remember the sockets that cross the channel: the kernel's copies are the judge's to account for
        (given to a call, returned by one), not sockets the learner opened (KernelProcess.sockets_left)."""
        for fd in fds:
            with contextlib.suppress(OSError):
                info = os.fstat(fd)
                if stat.S_ISSOCK(info.st_mode) and len(self.crossed) < 100_000:
                    self.crossed.add(f"socket:[{info.st_ino}]")

    def close(self) -> None:
        self._break("the judge closed the channel")
        self.channel.close()
        self.reader.join(2.0)

    def request(self, message: dict, fds: list[int] = (), arguments: list = (),  # type: ignore[assignment]
                ident: int | None = None) -> tuple[dict, list]:
        """Send `message` and wait for its answer (at most until self.deadline)."""
        if self.broken:
            raise ChannelBroken(self.broken)
        ident = next(self.ids) if ident is None else ident
        slot = _Slot(list(arguments))
        with self.lock:
            self.pending[ident] = slot
        self._note_crossing(fds)
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

    def call(self, name: str, args: tuple, kwargs: dict, handle: int | None = None, method: str = "") -> Any:
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
        request = {"op": "call", "name": name, "args": encoded_args, "kwargs": encoded_kwargs,
                   "faults": encoded_faults}
        if handle is not None:
            request.update(handle=handle, method=method)
        hold = self.holding and self.pid is not None
        if hold:
            request["hold"] = True
        self.fd_table, self.given, self.returned = None, [], []
        ident = next(self.ids)
        live = _live_listeners(self, ident, arguments)
        witnesses = [f for f in forwards if f.witness is not None] if self.private_network else []
        opens = procfs.tcp_active_opens(self.pid) if witnesses else None
        with wiretap.SynTap() if any(f.knocks for f in witnesses) else contextlib.nullcontext() as tap:
            try:
                message, fds = self.request(request, encoder.fds, arguments, ident)
            finally:
                for arg, accepted in live:
                    arg.accepted = accepted
            knocks = tap.times() if tap is not None else None
        if witnesses:
            now = procfs.tcp_active_opens(self.pid)
            outside = {"attempts": now - opens if now is not None and opens is not None else None,
                       "knocks": knocks}
            for forward in witnesses:
                forward.witness(outside)
        if hold:
            self.fd_table = procfs.fd_table(self.pid)
            with contextlib.suppress(OSError, wire.ProtocolError):
                self.channel.send({"op": "release", "id": message.get("id")})
        _note_backlogs(arguments)
        try:
            after = message.get("after")
            _mirror(arguments, after, fds)
            if isinstance(after, list) and len(after) == len(arguments):
                self.given = [(a, st.get("given_fileno")) for a, st in zip(arguments, after, strict=True)
                              if isinstance(a, socket.socket) and isinstance(st, dict)]
            seen = message.get("faults")
            if isinstance(seen, list) and len(seen) == len(forwards):
                for forward, result in zip(forwards, seen, strict=True):
                    if forward.merge is not None and result is not None:
                        forward.merge(wire.decode(result, []))
            if message.get("ok") is True:
                raw = message.get("value")
                value = wire.decode(raw, fds)
                if isinstance(value, socket.socket) and isinstance(raw, dict):
                    self.returned = [(value, raw.get("fileno"))]
                if isinstance(value, wire.Opaque) and value.handle is not None:
                    return RemoteObject(self, value.handle, value.type_name)
                return value
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

    def ask(self, what: str, **extra: Any) -> tuple[dict, list]:
        """A fixed question about the kernel's process (agent.Agent._process); (answer, descriptors)."""
        message, fds = self.request({"op": "process", "what": what, **extra})
        if message.get("ok") is not True:
            wire.close_fds(fds)
            raise wire.rebuild_exception(message.get("error"))
        return message, fds


def _note_backlogs(arguments: list) -> None:
    """Each listening HarnessSocket argument's `queued`: the clients still in its backlog as the call
    ended, read from the judge's own descriptor of it (before a close in the kernel is mirrored here)."""
    from ..runners import HarnessSocket

    for arg in arguments:
        if isinstance(arg, HarnessSocket):
            arg.queued = procfs.backlog(arg)


def _live_listeners(client: Client, ident: int, arguments: list) -> list:
    """During a call, each HarnessSocket argument's `accepted` reads the kernel's connections live."""
    from ..runners import HarnessSocket

    live = []
    for k, arg in enumerate(arguments):
        if isinstance(arg, HarnessSocket):
            live.append((arg, arg.accepted))
            arg.accepted = LiveAccepted(client, ident, k, arg.accepted)
    return live


class LiveAccepted(list):
    """A listener's `accepted` while the learner's server runs in the kernel: each read asks the agent
    for the connections accepted so far (`RemoteConnection`s). After the call the listener has its
    plain list back, with the connections mirrored (closed, or handed to the judge)."""

    def __init__(self, client: Client, call: int, arg: int, before: list) -> None:
        super().__init__()
        self.client, self.call, self.arg, self.before = client, call, arg, before
        self.last: list = []  # the last answer: a read that gets none (the call ended) never shrinks the list

    def _now(self) -> list:
        try:
            message, fds = self.client.request({"op": "conns", "call": self.call, "arg": self.arg})
        except (ChannelBroken, JudgeTimeout):
            return self._fallback()
        wire.close_fds(fds)
        states = wire.decode(message.get("value"), []) if message.get("ok") is True else None
        if not isinstance(states, list):
            return self._fallback()
        self.last = [RemoteConnection(self.client, self.call, self.arg, i, s if isinstance(s, dict) else {})
                     for i, s in enumerate(states)]
        return list(self.last)

    def _fallback(self) -> list:
        before = list(self.before)
        return before if len(before) >= len(self.last) else list(self.last)

    def __iter__(self):
        return iter(self._now())

    def __len__(self) -> int:
        return len(self._now())

    def __getitem__(self, index):
        return self._now()[index]

    def __bool__(self) -> bool:
        return bool(self._now())


class RemoteConnection:
    """A connection the learner's server accepted in the kernel, as a check reads it during the call:
    its counters (as the agent reports them when read), and two harness states a check may set, which
    are set on the kernel's connection: `dying = True` (every send fails from now on: watching.py's
    _MortalSocket), `send_started = <Event>` (set when the server's sendall on it starts)."""

    _where: tuple

    def __init__(self, client: Client, call: int, arg: int, index: int, state: dict) -> None:
        where = {"call": call, "arg": arg, "index": index}
        object.__setattr__(self, "_where", (client, where))
        for key in (*COUNTERS, "failures"):
            value = state.get(key, 0)
            object.__setattr__(self, key, value if type(value) is int else 0)
        object.__setattr__(self, "_closed", state.get("closed") is True)

    def fileno(self) -> int:
        return -1  # the kernel's; the judge holds no descriptor of it during the call

    def close(self) -> None:
        pass  # the kernel's agent closes it when the call ends or is abandoned

    def __setattr__(self, name: str, value: Any) -> None:
        client, where = self._where
        if name == "dying" and value:
            message, fds = client.request({"op": "conn_set", **where, "set": "dying"})
            wire.close_fds(fds)
            if message.get("ok") is not True:
                raise wire.rebuild_exception(message.get("error"))
        elif name == "send_started" and hasattr(value, "set"):
            # set in the kernel before this returns (as the assignment is in the notebook); the kernel
            # answers `notify` when the server's sendall on this connection starts
            notify = next(client.ids)
            slot = _Slot([])
            slot.then = functools.partial(_when_sending, event=value)
            with client.lock:
                client.pending[notify] = slot
            message, fds = client.request({"op": "conn_set", **where, "set": "send_started", "notify": notify})
            wire.close_fds(fds)
            if message.get("ok") is not True:
                with client.lock:
                    client.pending.pop(notify, None)
                raise wire.rebuild_exception(message.get("error"))
        object.__setattr__(self, name, value)


def _when_sending(slot: _Slot, event) -> None:
    """The kernel said the server's sendall on that connection started (run by the reader thread)."""
    wire.close_fds(slot.fds)
    if slot.message is not None and slot.message.get("ok") is True:
        event.set()


class KernelProcess:
    """The judge's view of the kernel's process (course_lib.learner.LearnerProcess), for a check.

    Observed from outside: the kernel's threads (/proc/<pid>/task); descriptor numbers (`number`), read
    from /proc/<pid>/fd while the kernel still holds the call's sockets (`numbering`: the agent keeps
    them open until the judge has read the table), compared by inode with the judge's own copy of the
    socket. A new socket's
    blocking mode is read from the descriptor itself (the judge's copy shares its file status flags).
    Reported by the kernel's agent (untrusted, as every mirrored state is): the number an argument had
    when the call began (`given_number`), the default timeout's value, a new socket's timeout value
    (checked against its blocking mode: a timeout of None is a blocking descriptor, any other is not).
    """

    def __init__(self, client: Client) -> None:
        self.client = client

    @contextlib.contextmanager
    def numbering(self):
        saved, self.client.holding = self.client.holding, True
        try:
            yield
        finally:
            self.client.holding = saved

    def number(self, sock: socket.socket, said: Any = None) -> int:
        table = self.client.fd_table
        if table is None:
            self.client.unjudgeable = "the kernel's descriptors could not be read from /proc"
            raise Unjudgeable(self.client.unjudgeable)
        if sock.fileno() == -1:
            return -1
        if said is None:  # a socket the call returned: the number the agent says its object has
            said = next((n for returned, n in self.client.returned if returned is sock), None)
        link = f"socket:[{os.fstat(sock.fileno()).st_ino}]"
        numbers = [n for n, target in sorted(table.items()) if target == link]
        if type(said) is int and said in numbers:
            return said
        return numbers[0] if numbers else -1

    def given_number(self, sock: socket.socket, before: int) -> int:
        number = next((n for arg, n in self.client.given if arg is sock), None)
        return number if type(number) is int else -1

    def sockets(self) -> set[str] | None:
        """Read from outside: the kernel's sockets now (`socket:[inode]` of each descriptor), or None."""
        table = procfs.fd_table(self.client.pid)
        return None if table is None else {link for link in table.values() if link.startswith("socket:[")}

    def sockets_left(self, before: set[str]) -> list[str]:
        """The sockets the learner's code opened in the kernel since `before` and left open, described.

        Read from /proc/<kernel pid>/fd, not asked: a socket new since `before` that never crossed the
        channel (the kernel's copies of the judge's arguments and of returned sockets, which the agent
        closes after its answer, did) was opened by the learner's code and is still open.
        """
        table = procfs.fd_table(self.client.pid)
        if table is None:
            return []
        left = {n: link for n, link in sorted(table.items())
                if link.startswith("socket:[") and link not in before and link not in self.client.crossed}
        return [procfs.describe(self.client.pid, n, link) for n, link in left.items()]

    def threads(self) -> int | None:
        """Read from outside: the entries of /proc/<kernel pid>/task."""
        try:
            return len(os.listdir(f"/proc/{self.client.pid}/task")) if self.client.pid is not None else None
        except OSError:
            return None

    def cpu_seconds(self) -> float | None:
        """Read from outside: the CPU time the kernel's threads have used so far (/proc schedstat)."""
        return procfs.cpu_seconds(self.client.pid)

    def getdefaulttimeout(self) -> float | None:
        """The default timeout is what a new socket gets: that is what is observed (new_socket_timeout);
        what `socket.getdefaulttimeout()` answers in the kernel is a name its code can rebind."""
        return self.new_socket_timeout()

    def setdefaulttimeout(self, seconds: float | None) -> None:
        message, fds = self.client.ask("setdefaulttimeout", seconds=seconds)
        wire.close_fds(fds)

    def new_socket_timeout(self) -> float | None:
        """The timeout of a socket made in the kernel, as the kernel's process shows it from outside:
        the socket (made by `socket.socket()`) connects to the judge and waits for a byte, and the judge
        reads that wait in /proc (poll's timeout, or a blocking receive; no wait: a timeout of 0). The
        agent's report of `gettimeout()` is kept only where the wait agrees with it; where /proc cannot
        be read here, the report is checked against the descriptor's blocking mode alone."""
        watcher = _WaitWatcher(self.client.pid) if self.client.pid is not None else None
        try:
            message, fds = self.client.ask("new_socket", **({"wait_at": list(watcher.address)} if watcher else {}))
        finally:
            seen = watcher.finish() if watcher is not None else procfs.UNREADABLE
        try:
            value = message.get("value")
            if len(fds) != 1 or not isinstance(value, dict):
                raise wire.ProtocolError("no socket in the answer")
            blocking = not fcntl.fcntl(fds[0], fcntl.F_GETFL) & os.O_NONBLOCK
            timeout = _seconds(value.get("timeout"))
        finally:
            wire.close_fds(fds)
        if (timeout is None) != blocking:
            self.client._break("the kernel's agent reported a timeout its socket does not have")
            raise ChannelBroken(self.client.broken)
        if seen == procfs.UNREADABLE:
            return timeout
        observed = _observed_timeout(seen, blocking)
        if observed is None or timeout is None:
            return observed
        return timeout if abs(observed - timeout) <= 0.0015 else observed


def _observed_timeout(seen, blocking: bool) -> float | None:
    """The timeout a wait read from /proc shows: None for a blocking receive (or a poll without limit on
    a blocking socket), the poll's limit, 0.0 where the socket did not wait at all."""
    if isinstance(seen, tuple):
        how, seconds = seen
        if how == "blocking" or (seconds is None and blocking):
            return None
        return round(seconds, 3) if seconds is not None else 0.0
    return 0.0


class _WaitWatcher:
    """A listener the kernel's new socket connects to, and a thread that watches the kernel's threads
    until one waits on that connection (then closes it, which ends the wait), the answer came, or 3 s."""

    LIMIT = 3.0

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.address = self.listener.getsockname()[:2]
        self.done = threading.Event()
        self.seen: Any = None
        self.thread = threading.Thread(target=self._watch, name="judge-wait-watcher", daemon=True)
        self.thread.start()

    def _watch(self) -> None:
        deadline = time.monotonic() + self.LIMIT
        conn = None
        try:
            while conn is None and not self.done.is_set() and time.monotonic() < deadline:
                self.listener.settimeout(0.05)
                with contextlib.suppress(TimeoutError):
                    conn, _ = self.listener.accept()
            if conn is None:
                self.seen = procfs.waiting_on(self.pid, "")  # None (readable: nothing came) or UNREADABLE
                return
            link = procfs.socket_link(self.pid, conn.getpeername()[:2], conn.getsockname()[:2])
            while True:
                self.seen = procfs.waiting_on(self.pid, link or "")
                if self.seen is not None or link is None:
                    return
                if self.done.wait(0.0005) or time.monotonic() > deadline:  # polls /proc: nothing to wait on
                    self.seen = procfs.waiting_on(self.pid, link)
                    return
        except OSError:
            self.seen = procfs.UNREADABLE
        finally:
            if conn is not None:
                conn.close()

    def finish(self):
        self.done.set()
        self.thread.join(self.LIMIT + 1)
        self.listener.close()
        return self.seen


def _seconds(value: Any) -> float | None:
    if value is None or (isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0):
        return value
    raise ChannelBroken("the kernel's agent broke the protocol: a timeout that is not a number of seconds")


class RemoteObject:
    """A context manager the learner's function returned: it stays in the kernel; `with` runs its
    `__enter__` and `__exit__` there (an exception of the block is passed to `__exit__` as data)."""

    def __init__(self, client: Client, handle: int, type_name: str) -> None:
        self._client, self._handle, self._type_name = client, handle, type_name

    def __enter__(self):
        return self._client.call(f"{self._type_name}.__enter__", (), {}, self._handle, "__enter__")

    def __exit__(self, kind, exc, tb) -> bool:
        return bool(self._client.call(f"{self._type_name}.__exit__", (exc,) if exc is not None else (), {},
                                      self._handle, "__exit__"))

    def __repr__(self) -> str:
        return f"<{self._type_name} object in the kernel>"


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
            if isinstance(state.get("blocking_accepts"), int) and hasattr(arg, "blocking_accepts"):
                arg.blocking_accepts = state["blocking_accepts"]  # type: ignore[attr-defined]
            for item in state.get("accepted") or []:
                if not isinstance(item, dict):
                    continue
                conn = wire.decode(item.get("conn"), fds, harness=HarnessSocket) if item.get("conn") else None
                if not isinstance(conn, HarnessSocket):
                    conn = HarnessSocket(arg.family, socket.SOCK_STREAM)
                    conn.close()  # the learner closed it: here too, so fileno() says -1
                _counters(conn, item)
                if isinstance(item.get("failures"), int):
                    conn.failures = item["failures"]  # type: ignore[attr-defined]
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

    @property
    def learner_process(self) -> KernelProcess:
        """The process this function runs in (course_lib.learner.process_of): the kernel's."""
        return self._client.process

    def __repr__(self) -> str:
        return f"<function {self.__name__} (in the kernel)>"
