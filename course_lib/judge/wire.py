"""The judge's channel into the kernel: framed JSON over an AF_UNIX stream, sockets as descriptors.

A frame is a 4-byte big-endian length, then that many bytes of UTF-8 JSON; the descriptors a frame
carries (SCM_RIGHTS) travel with its first byte. Nothing is pickled: a value is plain data (None, bool,
int, float, str, bytes, tuples, lists, dicts, the socket module's enums, exceptions described by type,
errno and message) or a socket, sent as a descriptor with its family, type, timeout and the shape flags
of a HarnessSocket. Every size is bounded before anything is read or allocated (MAX_FRAME bytes,
MAX_FDS descriptors, MAX_DEPTH levels); anything else is a ProtocolError, and the descriptors of a bad
frame are closed.
"""
from __future__ import annotations

import array
import base64
import builtins
import json
import math
import os
import socket
import struct
import threading
from typing import Any

MAX_FRAME = 32 * 1024**2  # bytes of JSON in one frame (1 MiB of payload is 1.4 MB in base64)
MAX_FDS = 16  # descriptors in one frame
MAX_DEPTH = 32  # nesting of containers in one value
MAX_ITEMS = 100_000  # items in one value, all containers together
HEADER = struct.Struct("!I")
ENUMS = {cls.__name__: cls for cls in (socket.AddressFamily, socket.SocketKind, socket.MsgFlag,
                                        socket.AddressInfo)}
SOCKET_ERRORS = {"gaierror": socket.gaierror, "herror": socket.herror}
CREDENTIALS = struct.Struct("3i")  # struct ucred: pid, uid, gid


class ProtocolError(Exception):
    """The other side broke the protocol (a bad length, bad JSON, an unknown tag, too many descriptors)."""


class Closed(ProtocolError):
    """The other side closed the channel."""


class RemoteError(Exception):
    """An exception of the learner's that has no counterpart here (its own class, or a BaseException)."""


class Opaque:
    """A value the learner's function returned that cannot cross the channel (it is named, not copied)."""

    def __init__(self, type_name: str, handle: int | None = None) -> None:
        self.type_name = type_name
        self.handle = handle  # the kernel keeps the object under this number (a context manager's methods)

    def __repr__(self) -> str:
        return f"<{self.type_name} object in the kernel>"


def _builtin_exception(name: str):
    cls = getattr(builtins, name, None)
    return cls if isinstance(cls, type) and issubclass(cls, Exception) else None


def _ssl_exception(name: str, module: str):
    if module not in ("ssl", "_ssl"):
        return None
    import ssl

    cls = getattr(ssl, name, None)
    return cls if isinstance(cls, type) and issubclass(cls, Exception) else None


class Encoder:
    """Turns a value into JSON-able data, collecting the descriptors it carries."""

    def __init__(self, opaque_ok: bool = False, keep=None) -> None:
        self.fds: list[int] = []
        self.sockets: list[socket.socket] = []
        self.items = 0
        self.opaque_ok = opaque_ok
        self.keep = keep  # (value) -> int | None: keeps an opaque value, so the judge may call its methods

    def encode(self, value: Any, depth: int = 0) -> Any:
        self.items += 1
        if depth > MAX_DEPTH or self.items > MAX_ITEMS:
            raise ProtocolError("a value nested too deeply or too large to send")
        if value is None or isinstance(value, (bool, str)):
            return value
        if isinstance(value, int):
            cls = type(value)
            if cls.__name__ in ENUMS and ENUMS[cls.__name__] is cls:
                return {"$enum": cls.__name__, "v": int(value)}
            return int(value)
        if isinstance(value, float):
            if math.isfinite(value):
                return float(value)
            return {"$float": repr(float(value))}
        if isinstance(value, bytes):
            return {"$bytes": base64.b64encode(value).decode()}
        if isinstance(value, bytearray):
            return {"$bytearray": base64.b64encode(bytes(value)).decode()}
        if isinstance(value, memoryview):
            return {"$bytearray": base64.b64encode(value.tobytes()).decode()}
        if isinstance(value, tuple):
            return {"$tuple": [self.encode(v, depth + 1) for v in value]}
        if isinstance(value, list):
            return [self.encode(v, depth + 1) for v in value]
        if isinstance(value, (set, frozenset)):
            return {"$set": [self.encode(v, depth + 1) for v in value]}
        if isinstance(value, dict):
            return {"$dict": [[self.encode(k, depth + 1), self.encode(v, depth + 1)] for k, v in value.items()]}
        if isinstance(value, socket.socket):
            return self._socket(value)
        if isinstance(value, BaseException):
            return {"$exc": describe_exception(value, self, depth)}
        if self.opaque_ok:
            handle = self.keep(value) if self.keep is not None else None
            if isinstance(handle, int):
                return {"$opaque": type(value).__qualname__[:80], "handle": handle}
            return {"$opaque": type(value).__qualname__[:80]}
        raise TypeError(f"{type(value).__name__} cannot be passed to the kernel")

    def _socket(self, sock: socket.socket) -> Any:
        fd = sock.fileno()
        if fd == -1:
            return {"$closed_socket": [int(sock.family), int(sock.type)]}
        if len(self.fds) >= MAX_FDS:
            raise ProtocolError("too many sockets in one message")
        self.fds.append(fd)
        self.sockets.append(sock)
        return {"$socket": len(self.fds) - 1, "fileno": fd, "family": int(sock.family), "type": int(sock.type),
                "proto": sock.proto, "timeout": sock.gettimeout(),
                "harness": (getattr(sock, "harness_kind", "") or True) if hasattr(sock, "short_sends") else False,
                "inheritable": sock.get_inheritable(),
                "shape": [bool(getattr(sock, "short_sends", False)), bool(getattr(sock, "short_recvs", False)),
                          int(getattr(sock, "recv_cap", 0))]}


def describe_exception(exc: BaseException, encoder: Encoder | None = None, depth: int = 0) -> dict:
    """An exception as data: its type's name and module, errno, message and plain arguments."""
    enc = encoder or Encoder(opaque_ok=True)
    args = []
    for arg in exc.args[:8]:
        try:
            args.append(enc.encode(arg, depth + 1) if not isinstance(arg, socket.socket) else None)
        except (TypeError, ProtocolError):
            args.append(None)
    described: dict[str, Any] = {"type": type(exc).__name__[:80], "module": type(exc).__module__[:80], "args": args,
                 "message": str(exc)[:2000]}
    if isinstance(exc, OSError):
        described["errno"] = exc.errno if isinstance(exc.errno, int) else None
        described["strerror"] = exc.strerror if isinstance(exc.strerror, str) else None
    return described


def rebuild_exception(data: Any) -> BaseException:
    """The exception `data` describes: the builtin or socket class of that name, else RemoteError."""
    if not isinstance(data, dict):
        raise ProtocolError("an exception must be described by a dict")
    name, module = str(data.get("type", ""))[:80], str(data.get("module", ""))[:80]
    message = str(data.get("message", ""))[:2000]
    cls = _builtin_exception(name) if module == "builtins" else (
        SOCKET_ERRORS.get(name) if module in ("socket", "_socket") else _ssl_exception(name, module))
    if cls is None:
        return RemoteError(f"{module}.{name}: {message}" if module not in ("", "__main__") else f"{name}: {message}")
    if issubclass(cls, OSError) and isinstance(data.get("errno"), int):
        strerror = data.get("strerror") if isinstance(data.get("strerror"), str) else message
        return cls(data["errno"], strerror)
    args = data.get("args")
    try:
        return cls(*[decode(a, []) for a in (args if isinstance(args, list) else [])])
    except Exception:
        return cls(message)


def decode(data: Any, fds: list, depth: int = 0, harness=None) -> Any:
    """The value `data` encodes; sockets are made from `fds` (each used at most once)."""
    if depth > MAX_DEPTH:
        raise ProtocolError("a value nested too deeply")
    if data is None or isinstance(data, (bool, int, float, str)):
        return data
    if isinstance(data, list):
        return [decode(v, fds, depth + 1, harness) for v in data]
    if not isinstance(data, dict) or len(data) > 12:
        raise ProtocolError("an unknown value")
    try:
        if "$bytes" in data:
            return base64.b64decode(data["$bytes"], validate=True)
        if "$bytearray" in data:
            return bytearray(base64.b64decode(data["$bytearray"], validate=True))
        if "$tuple" in data:
            return tuple(decode(v, fds, depth + 1, harness) for v in _list(data["$tuple"]))
        if "$set" in data:
            return {decode(v, fds, depth + 1, harness) for v in _list(data["$set"])}
        if "$dict" in data:
            return {decode(k, fds, depth + 1, harness): decode(v, fds, depth + 1, harness)
                    for k, v in (_pair(p) for p in _list(data["$dict"]))}
        if "$enum" in data:
            cls = ENUMS.get(str(data["$enum"]))
            value = data["v"]
            if cls is None or not isinstance(value, int) or isinstance(value, bool):
                raise ProtocolError("an unknown enum")
            try:
                return cls(value)
            except ValueError:
                return value
        if "$float" in data:
            if data["$float"] not in ("inf", "-inf", "nan"):
                raise ProtocolError("a bad float")
            return float(data["$float"])
        if "$socket" in data:
            return _make_socket(data, fds, harness)
        if "$closed_socket" in data:
            family, kind = _list(data["$closed_socket"])[:2]
            sock = socket.socket(int(family), int(kind))
            sock.close()
            return sock
        if "$exc" in data:
            return rebuild_exception(data["$exc"])
        if "$opaque" in data:
            handle = data.get("handle")
            return Opaque(str(data["$opaque"])[:80], handle if type(handle) is int else None)
    except (KeyError, TypeError, ValueError, OverflowError) as exc:
        raise ProtocolError(f"a malformed value ({type(exc).__name__})") from None
    raise ProtocolError("an unknown value")


def _list(value: Any) -> list:
    if not isinstance(value, list):
        raise ProtocolError("a list was expected")
    return value


def _pair(value: Any) -> tuple:
    if not isinstance(value, list) or len(value) != 2:
        raise ProtocolError("a key/value pair was expected")
    return value[0], value[1]


def _make_socket(data: dict, fds: list, harness) -> socket.socket:
    index = data["$socket"]
    if not isinstance(index, int) or not 0 <= index < len(fds) or fds[index] is None:
        raise ProtocolError("a socket refers to a descriptor that was not sent")
    fd, fds[index] = fds[index], None
    shape = data.get("shape")
    shape = (shape + [False, False, 0])[:3] if isinstance(shape, list) else [False, False, 0]
    cap = shape[2] if type(shape[2]) is int and 0 <= shape[2] <= MAX_FRAME else 0
    try:
        family, kind, proto = int(data["family"]), int(data["type"]), int(data.get("proto") or 0)
        kind_of = data.get("harness")
        if isinstance(harness, dict):  # the kernel's side: a harness class by its kind ("tight"...)
            harness = harness.get(kind_of, harness.get("")) if isinstance(kind_of, str) else harness.get("")
        if harness is not None and kind_of is not False and kind_of is not None:
            sock = harness(family, kind, proto, fileno=fd, short_sends=bool(shape[0]), short_recvs=bool(shape[1]),
                           recv_cap=cap)
        else:
            sock = socket.socket(family, kind, proto, fileno=fd)
    except BaseException:
        os.close(fd)
        raise
    if isinstance(data.get("inheritable"), bool):
        sock.set_inheritable(data["inheritable"])
    timeout = data.get("timeout")
    if timeout is None:
        sock.setblocking(True)
    elif isinstance(timeout, (int, float)) and timeout >= 0:
        sock.settimeout(float(timeout))
    return sock


def close_fds(fds: list) -> None:
    for fd in fds:
        if fd is not None:
            try:
                os.close(fd)
            except OSError:
                pass


class Channel:
    """One end of the channel: send() and recv() whole frames; safe to send from several threads."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._send_lock = threading.Lock()

    def send(self, message: dict, fds: list[int] = ()) -> None:  # type: ignore[assignment]
        body = json.dumps(message, separators=(",", ":"), allow_nan=False).encode()
        if len(body) > MAX_FRAME:
            raise ProtocolError(f"a message of {len(body)} bytes is over the {MAX_FRAME}-byte limit")
        data = HEADER.pack(len(body)) + body
        with self._send_lock:
            if fds:
                sent = self.sock.sendmsg([data], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))])
            else:
                sent = self.sock.send(data)
            if sent < len(data):
                self.sock.sendall(memoryview(data)[sent:])

    def _exactly(self, n: int, fds: list) -> bytes:
        buf = bytearray()
        space = socket.CMSG_SPACE(MAX_FDS * array.array("i").itemsize)
        while len(buf) < n:
            chunk, ancillary, flags, _ = self.sock.recvmsg(min(n - len(buf), 1 << 20), space)
            for level, kind, payload in ancillary:
                if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                    got = array.array("i")
                    got.frombytes(payload[: len(payload) - len(payload) % got.itemsize])
                    fds.extend(got)
            if flags & getattr(socket, "MSG_CTRUNC", 0x8):
                raise ProtocolError("more descriptors than a message may carry")
            if len(fds) > MAX_FDS:
                raise ProtocolError("more descriptors than a message may carry")
            if not chunk:
                raise Closed("the channel closed" + (" inside a message" if buf or n != HEADER.size else ""))
            buf += chunk
        return bytes(buf)

    def recv(self) -> tuple[dict, list[int]]:
        """The next frame, as (message, descriptors); the caller owns (and must close) the descriptors."""
        fds: list[int] = []
        try:
            (length,) = HEADER.unpack(self._exactly(HEADER.size, fds))
            if length > MAX_FRAME:
                raise ProtocolError(f"a message of {length} bytes announced, over the {MAX_FRAME}-byte limit")
            body = self._exactly(length, fds)
            try:
                message = json.loads(body)
            except (ValueError, RecursionError):
                raise ProtocolError("a message that is not JSON") from None
            if not isinstance(message, dict):
                raise ProtocolError("a message that is not a JSON object")
        except BaseException:
            close_fds(fds)
            raise
        return message, fds

    def close(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


def peer_credentials(sock: socket.socket) -> tuple[int, int, int]:
    """(pid, uid, gid) of the process that connected `sock` (Linux SO_PEERCRED)."""
    raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, CREDENTIALS.size)
    pid, uid, gid = CREDENTIALS.unpack(raw)
    return pid, uid, gid
