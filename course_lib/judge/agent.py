"""The judge's agent inside the learner's kernel: it calls the learner's functions when the judge asks.

    import course_lib.judge.agent; course_lib.judge.agent.serve(PATH, globals())

runs once, after every cell of the notebook, in the learner's kernel (course_lib/judge/execute.py sends
it; its output goes nowhere). It connects to the judge's socket and serves until the judge closes the
channel: `call` runs a learner function in a thread of its own (several may run at once: a check may
abandon a call that hangs and go on), `abandon` closes the sockets a call was given and interrupts it,
`lookup` says which names the learner defined, `process` answers a fixed question about this process
(its default socket timeout; a socket made here). A value the judge cannot copy (a context manager) is
kept under a number, and `call` with `handle` runs its `__enter__`/`__exit__`. A call made with `hold`
keeps its sockets open after the answer until the judge, having read /proc/<pid>/fd, sends `release`.
While a call runs, `conns` lists the connections accepted from one of its listeners and `conn_set` sets
a harness state on one. Everything here runs in a process the learner owns, so the judge trusts nothing
it says beyond what it can check itself: this is a conduit, not a referee.
"""
from __future__ import annotations

import ctypes
import functools
import os
import socket
import sys
import threading
from typing import Any

from . import wire


class _Abandoned(BaseException):
    """Injected into a call the judge gave up on (a BaseException: `except Exception` cannot swallow it)."""


def _harness_socket() -> dict:
    """The harness classes a socket the judge sends may be, by its kind (wire: "harness")."""
    from ..checks.watching import _TightListener
    from ..runners import HarnessSocket

    return {"": HarnessSocket, "tight": _TightListener}


class _Notify:
    """Stands in the kernel for a check's threading.Event on a connection (send_started): set() answers
    the judge's waiting request."""

    def __init__(self, agent: Agent, ident) -> None:
        self.agent, self.ident, self.done = agent, ident, False

    def set(self) -> None:
        if not self.done:
            self.done = True
            self.agent.reply({"id": self.ident, "ok": True, "value": None})


class Agent:
    def __init__(self, channel: wire.Channel, namespace: dict) -> None:
        self.channel = channel
        self.namespace = namespace
        self.calls: dict[int, tuple[threading.Thread, list]] = {}
        self.lock = threading.Lock()
        self.handles: dict[int, Any] = {}  # opaque values the judge may call __enter__/__exit__ of
        self.holds: dict[int, threading.Event] = {}  # calls whose sockets stay open until `release`
        self.live: dict[int, list] = {}  # the arguments of each call still running (`conns`, `conn_set`)

    def reply(self, message: dict, fds: list[int] = ()) -> None:  # type: ignore[assignment]
        try:
            self.channel.send(message, fds)
        except wire.ProtocolError as exc:  # a value too large to send: the answer is that it was
            error = wire.describe_exception(ValueError(f"the value could not be sent to the judge: {exc}"))
            try:
                self.channel.send({"id": message.get("id"), "ok": False, "error": error})
            except (OSError, wire.ProtocolError):
                pass
        except OSError:
            pass

    def serve(self) -> None:
        while True:
            try:
                message, fds = self.channel.recv()
            except (OSError, wire.ProtocolError):
                with self.lock:
                    for event in self.holds.values():
                        event.set()
                return
            op = message.get("op")
            if op == "call":
                self._start(message, fds)
                continue
            wire.close_fds(fds)
            if op == "lookup":
                self._lookup(message)
            elif op == "abandon":
                self._abandon(message.get("id"))
                self._release(message.get("id"))
            elif op == "release":
                self._release(message.get("id"))
            elif op == "process":
                self._process(message)
            elif op in ("conns", "conn_set"):
                self._conns(message)

    def _lookup(self, message: dict) -> None:
        found: dict[str, Any] = {}
        for name in message.get("names", [])[:200]:
            if not isinstance(name, str) or name not in self.namespace:
                found[str(name)[:80]] = "missing"
                continue
            value = self.namespace[name]
            if callable(value):
                found[name] = "callable"
            else:
                try:
                    found[name] = {"$tuple": ["value", wire.Encoder(opaque_ok=True).encode(value)]}
                except (TypeError, wire.ProtocolError):
                    found[name] = {"$tuple": ["value", {"$opaque": type(value).__qualname__[:80]}]}
        self.reply({"id": message.get("id"), "ok": True, "value": {"$dict": [[k, v] for k, v in found.items()]}})

    def _keep(self, value: Any) -> int | None:
        if not (hasattr(value, "__enter__") and hasattr(value, "__exit__")) or len(self.handles) >= 256:
            return None
        handle = len(self.handles) + 1
        self.handles[handle] = value
        return handle

    def _target(self, message: dict, args: list):
        """The function a call runs: a learner's name, or a kept context manager's __enter__/__exit__."""
        if "handle" not in message:
            return self.namespace[message["name"]], args
        obj, method = self.handles[message["handle"]], message.get("method")
        if method == "__enter__":
            return obj.__enter__, []
        if method == "__exit__":
            exc = args[0] if args and isinstance(args[0], BaseException) else None
            return obj.__exit__, [type(exc), exc, None] if exc is not None else [None, None, None]
        raise ValueError(f"no method {str(method)[:40]!r} may be called on a kept value")

    def _start(self, message: dict, fds: list[int]) -> None:
        ident = message.get("id")
        if not isinstance(ident, int):
            wire.close_fds(fds)
            return
        try:
            harness = _harness_socket()
            args = wire.decode(message.get("args", []), fds, harness=harness)
            kwargs = wire.decode({"$dict": message.get("kwargs", [])}, fds, harness=harness)
            specs = wire.decode(message.get("faults", []), fds)
            if not isinstance(specs, list) or not all(isinstance(f, dict) for f in specs):
                raise ValueError("faults must be a list of dicts")
            fn, args = self._target(message, args)
        except BaseException as exc:  # noqa: BLE001 - every request gets an answer
            wire.close_fds(fds)
            self.reply({"id": ident, "ok": False, "error": wire.describe_exception(exc)})
            return
        wire.close_fds(fds)  # descriptors sent but not used by any value
        given = [v for v in [*args, *kwargs.values()] if isinstance(v, socket.socket)]
        numbers = {id(s): s.fileno() for s in given}
        thread = threading.Thread(target=self._call, args=(ident, fn, args, kwargs, given, specs, numbers),
                                  daemon=True, name=f"judge-call-{ident}")
        with self.lock:
            self.calls[ident] = (thread, given)
            self.live[ident] = [*args, *kwargs.values()]
            if message.get("hold") is True:
                self.holds[ident] = threading.Event()
        thread.start()

    def _release(self, ident) -> None:
        with self.lock:
            event = self.holds.pop(ident, None) if isinstance(ident, int) else None
        if event is not None:
            event.set()

    def _conns(self, message: dict) -> None:
        """While a call runs: the connections accepted so far from one of its listeners (`conns`), or
        a harness state set on one of them (`conn_set`: `dying`, or `send_started` answered later)."""
        ident = message.get("id")
        try:
            with self.lock:
                call = message.get("call")
                arguments = self.live.get(call) if isinstance(call, int) else None
            if arguments is None:
                raise LookupError("that call is not running")
            listener = arguments[message["arg"]]
            accepted = list(getattr(listener, "accepted", []))[:64]
            if message.get("op") == "conns":
                value = [{"closed": c.fileno() == -1, "failures": getattr(c, "failures", 0),
                          **{k: getattr(c, k, 0) for k in COUNTERS}} for c in accepted]
                self.reply({"id": ident, "ok": True, "value": wire.Encoder().encode(value)})
                return
            conn = accepted[message["index"]]
            if message.get("set") == "dying":
                conn.dying = True
            elif message.get("set") == "send_started" and isinstance(message.get("notify"), int):
                conn.send_started = _Notify(self, message["notify"])  # answered when its sendall starts
            else:
                raise ValueError("no such state")
            self.reply({"id": ident, "ok": True, "value": None})
        except Exception as exc:  # noqa: BLE001 - every request gets an answer
            self.reply({"id": ident, "ok": False, "error": wire.describe_exception(exc)})

    def _process(self, message: dict) -> None:
        """A fixed question about this process (no code of the judge's runs here)."""
        ident, what = message.get("id"), message.get("what")
        encoder = wire.Encoder()
        made = None
        try:
            value: Any = None
            if what == "setdefaulttimeout":
                seconds = message.get("seconds")
                socket.setdefaulttimeout(seconds if isinstance(seconds, (int, float)) else None)
            elif what == "changed":
                value = changed_code()
            elif what == "new_socket":
                value = made = socket.socket()
                at = message.get("wait_at")
                if (isinstance(at, list) and len(at) == 2 and isinstance(at[0], str) and len(at[0]) < 64
                        and isinstance(at[1], int)):
                    _wait_once(made, (at[0], at[1]))
            else:
                raise ValueError(f"no such question: {str(what)[:40]!r}")
            answer = {"id": ident, "ok": True, "value": encoder.encode(value)}
        except Exception as exc:  # noqa: BLE001 - every request gets an answer
            answer, encoder = {"id": ident, "ok": False, "error": wire.describe_exception(exc)}, wire.Encoder()
        try:
            self.reply(answer, encoder.fds)
        finally:
            if made is not None:
                made.close()

    def _call(self, ident, fn, args: list, kwargs: dict, given: list, specs: list, numbers: dict) -> None:
        from .. import faults

        seen: list = []
        try:
            with faults.replay(specs) as results:
                try:
                    value, error = fn(*args, **kwargs), None
                except _Abandoned:
                    return
                except BaseException as exc:  # noqa: BLE001 - the learner's exception is the answer
                    value, error = None, exc
                    _drop_frames(exc)  # what only its traceback kept alive is finalised here, watched
            seen = [get() for get in results]
        except _Abandoned:
            return
        except BaseException as exc:  # noqa: BLE001 - a fault that cannot be set up is an answer too
            value, error = None, exc
        with self.lock:
            self.calls.pop(ident, None)
        injected = next((i for i, spec in enumerate(specs) if error is not None and spec.get("error") is error), None)
        sent: list = []
        try:
            sent = self._answer(ident, value, error, [*args, *kwargs.values()], seen, injected, numbers)
            with self.lock:
                held = self.holds.get(ident)
            if held is not None:  # the judge reads /proc/<pid>/fd now; then it says `release`
                held.wait(30.0)
                self._release(ident)
        except _Abandoned:
            pass
        finally:
            with self.lock:
                self.live.pop(ident, None)
            for sock in [*sent, *given]:
                try:
                    sock.close()
                except OSError:
                    pass  # one descriptor owned by two of the learner's objects: closed once already

    def _answer(self, ident, value, error, arguments: list, seen: list, injected: int | None,
                numbers: dict) -> list:
        """Send the call's answer; return the sockets sent (the judge holds them now: closed here after)."""
        encoder = wire.Encoder(opaque_ok=True, keep=self._keep)
        try:
            after = [_state(a, encoder, numbers) for a in arguments]
            if error is not None:
                described = wire.describe_exception(error)
                if injected is not None:
                    described["injected"] = injected
                message = {"id": ident, "ok": False, "error": described, "after": after}
            else:
                message = {"id": ident, "ok": True, "value": encoder.encode(value), "after": after}
            message["faults"] = [wire.Encoder().encode(r) for r in seen]
        except (TypeError, wire.ProtocolError) as exc:
            encoder = wire.Encoder()
            message = {"id": ident, "ok": False, "error": wire.describe_exception(exc)}
        self.reply(message, encoder.fds)
        return encoder.sockets

    def _abandon(self, ident) -> None:
        with self.lock:
            thread, given = self.calls.pop(ident, (None, []))
        if thread is None:
            return
        for sock in [*given, *(c for s in given for c in getattr(s, "accepted", []))]:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if thread.ident is not None:
            ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread.ident), ctypes.py_object(_Abandoned))


COUNTERS = ("short_sends_made", "bytes_sent", "bytes_received")


#: modules whose functions the checks rely on in the kernel: course_lib's own, and these of Python's
WATCHED = ("socket", "_socket", "time", "select", "selectors", "ssl", "errno", "threading", "contextlib",
           "warnings", "gc", "sys", "builtins", "functools", "os")


def changed_code(limit: int = 20) -> list[str]:
    """'module.name' of each function, class or callable, in course_lib or one of WATCHED (and each
    method of a class they define), that is no longer what the installed sources define: rebound to code
    from elsewhere (a notebook's cell), as a learner who shapes what course_lib reports in the kernel
    would. A hint, not a defence: code in this process can change this function as well."""
    roots = _trusted_roots()
    found: list[str] = []
    for name, module in sorted(sys.modules.items(), key=lambda item: item[0])[:5000]:
        if not (name in WATCHED or name == "course_lib" or name.startswith("course_lib.")):
            continue
        try:
            items = list(vars(module).items())
        except TypeError:
            continue
        for attr, value in items[:2000]:
            if isinstance(value, type) and getattr(value, "__module__", None) == name:  # its own class: each method
                found += [f"{name}.{attr}.{k}" for k, v in list(vars(value).items())[:500]
                          if not _trusted(v, roots, dunder=k.startswith("__") and k.endswith("__"))]
            elif not _trusted(value, roots, dunder=False):
                found.append(f"{name}.{attr}")
            if len(found) >= limit:
                return found[:limit]
    return found[:limit]


def _trusted(value: Any, roots: tuple[str, ...], dunder: bool) -> bool:
    """Whether `value` (a function, through what it wraps; a class; a partial; an instance, through its
    class) comes from the installed sources. `dunder`: a class's own special method, which dataclasses and
    namedtuple write as '<string>'."""
    if isinstance(value, type(sys)):
        return True  # (a module)
    for _ in range(10):
        value = getattr(value, "__func__", value)  # a staticmethod, classmethod or bound method
        if isinstance(value, functools.partial):
            value = value.func
            continue
        code = getattr(value, "__code__", None) if not isinstance(value, type) else None
        if code is not None:
            if not _installed(code, roots, dunder):
                return False
            inner = getattr(value, "__wrapped__", None)  # functools.wraps: a contextmanager's generator
            if inner is None:
                return True
            value = inner
            continue
        return _trusted_class(value if isinstance(value, type) else type(value), roots)
    return False


def _trusted_class(kind: type, roots: tuple[str, ...]) -> bool:
    """A class comes from the installed sources if its own methods do, and its module is one of them (or
    built in). A module the class names but sys.modules lacks (3.10's ssl.Purpose says '<unknown>')
    leaves the decision to its methods."""
    for key, member in list(vars(kind).items())[:500]:
        code = getattr(getattr(member, "__func__", member), "__code__", None)
        if code is not None and not _installed(code, roots, dunder=key.startswith("__")):
            return False
    name = str(getattr(kind, "__module__", "") or "")
    module = sys.modules.get(name)
    if module is None:
        return name != "__main__"
    source = getattr(module, "__file__", None)
    if source is None:
        return name in sys.builtin_module_names
    return str(source).startswith(roots)


def _installed(code: Any, roots: tuple[str, ...], dunder: bool) -> bool:
    """A code object compiled from a file under `roots`; or, for a special method (`dunder`), from the
    '<string>' that dataclasses and namedtuple write theirs in."""
    where = str(getattr(code, "co_filename", ""))
    return where.startswith(roots) or (dunder and where == "<string>")


def _trusted_roots() -> tuple[str, ...]:
    """Where installed code lives: course_lib, the standard library, and the interpreter's site-packages
    (its own, a system's dist-packages, the user's), from the installation, not from sys.path."""
    import site
    import sysconfig

    paths = sysconfig.get_paths()
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # course_lib
    places = [here, *(paths.get(k) for k in ("stdlib", "platstdlib", "purelib", "platlib"))]
    try:
        places += [*site.getsitepackages(), site.getusersitepackages()]
    except AttributeError:  # (an old virtualenv's site module)
        pass
    found = {os.path.abspath(p) for p in places if p}
    return (*sorted(found), "<frozen ")


def _wait_once(sock: socket.socket, address: tuple[str, int]) -> None:
    """Connect `sock` to the judge and wait once for a byte, as the socket's own timeout says: the judge
    reads the wait from outside (procfs.waiting_on), then closes its end, which ends the wait."""
    try:
        sock.connect_ex(address)
        sock.recv(1)
    except OSError:  # (a timeout of 0: nothing waits, which is what the judge is to see)
        pass


def _drop_frames(error: BaseException) -> None:
    """Cut the learner's frames loose from an exception the call raised (and from those it chains).

    The judge gets the exception's type, errno and message, never its traceback. Its frames would keep
    the function's local sockets alive until the call's thread ends, after the faults stopped watching:
    a socket forgotten on the error path would then be closed by the garbage collector unseen, and would
    still be open, or not, when the judge reads the kernel's descriptors. Dropped here, it is closed
    while record_unclosed and the judge's count still look, as it is in the notebook.
    """
    seen: set[int] = set()
    exc: BaseException | None = error
    while exc is not None and id(exc) not in seen and len(seen) < 64:
        seen.add(id(exc))
        exc.__traceback__ = None
        exc = exc.__cause__ or exc.__context__


def _state(arg, encoder: wire.Encoder, numbers: dict) -> Any:
    """What the judge mirrors of an argument after the call: a socket's close and timeout, a buffer's
    bytes; of a HarnessSocket also its counters and the connections the learner accepted from it (those
    still open go to the judge, which closes them as the harness would)."""
    if isinstance(arg, socket.socket):
        closed = arg.fileno() == -1
        state: dict[str, Any] = {"socket": True, "closed": closed, "timeout": None if closed else arg.gettimeout(),
                 "counters": {k: getattr(arg, k) for k in COUNTERS if isinstance(getattr(arg, k, None), int)},
                 "given_fileno": numbers.get(id(arg))}
        accepted = getattr(arg, "accepted", None)
        if isinstance(accepted, list):
            state["accepted"] = [{"conn": encoder.encode(c) if c.fileno() != -1 else None,
                                  "counters": {k: getattr(c, k, 0) for k in COUNTERS},
                                  "failures": getattr(c, "failures", 0)}
                                 for c in accepted[: wire.MAX_FDS // 2]]
            state["blocking_accepts"] = getattr(arg, "blocking_accepts", 0)
        return state
    if isinstance(arg, bytearray):
        return {"bytes": wire.Encoder().encode(bytes(arg))}
    return None


def serve(path: str, namespace: dict) -> None:
    """Connect to the judge at `path` and serve its requests until it closes the channel."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(10)
        sock.connect(path)
        sock.settimeout(None)
    except OSError:
        sock.close()
        return
    channel = wire.Channel(sock)
    try:
        Agent(channel, namespace).serve()
    finally:
        channel.close()
