"""Checks of functions that return a listening socket (``_call``), then connect to it.

``start_server``, ``make_listener`` (SO_REUSEADDR) and
``make_dualstack_server``: the socket's options and address are inspected,
then a reference client connects.
"""

from __future__ import annotations

import errno
import os
import socket

from .. import faults
from ..probes import ADDRINUSE_ERRNOS, dualstack_available, errno_name, skip_unless
from ..resources import hard_close
from ..timing import DEFAULT_DEADLINE
from .drivers import _call, _patience
from .vocabulary import _fail, _show


def check_start_server(start_server, *, edge_cases: bool = True, deadline: float | None = None) -> None:
    """``start_server() -> (listening_socket, port)`` on 127.0.0.1, port 0.

    Edge cases: two servers at once (both calls must work, on distinct ports),
    which catches a fixed port number; bind() and then listen() failing (the
    error must propagate and no socket may be left open).
    """
    what = "start_server()"
    socks = []
    try:
        for attempt in range(2 if edge_cases else 1):
            try:
                result = _call(start_server, what=what, deadline=deadline)
            except AssertionError as exc:
                cause = exc.__cause__
                if attempt and isinstance(cause, OSError) and cause.errno in ADDRINUSE_ERRNOS:
                    raise _fail(f"calling {what} a second time, while the first server was still "
                                f"open, failed with {errno_name(cause.errno)}.",
                                hint="bind to port 0 so the operating system picks a free port, "
                                     "then read it back with getsockname()[1]") from cause
                raise
            if isinstance(result, socket.socket):
                socks.append(result)
                raise _fail(f"{what} returned only the socket.",
                            expected="a tuple (listening_socket, port)", got=repr(result))
            if not (isinstance(result, tuple) and len(result) == 2):
                raise _fail(f"{what} should return a tuple (listening_socket, port).",
                            got=repr(result))
            sock, port = result
            if isinstance(sock, socket.socket):
                socks.append(sock)
            else:
                raise _fail(f"the first item {what} returned is not a socket.", got=repr(sock))
            if sock.family != socket.AF_INET or sock.type != socket.SOCK_STREAM:
                raise _fail(f"{what} returned a {sock.family!r}/{sock.type!r} socket.",
                            expected="an AF_INET, SOCK_STREAM (TCP) socket")
            host, real_port = sock.getsockname()
            if host != "127.0.0.1":
                raise _fail(f"the server is bound to {host!r}.", expected="'127.0.0.1' (loopback)",
                            hint="bind to ('127.0.0.1', 0): only this machine can connect, and "
                                 "'' or '0.0.0.0' would expose the server to the network")
            if port != real_port:
                raise _fail(f"{what} returned port {port!r}, but the socket is bound to port "
                            f"{real_port}.",
                            hint="port 0 asks the OS to choose; read the real port from "
                                 "sock.getsockname()[1] after bind()")
            listening = (sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
                         if hasattr(socket, "SO_ACCEPTCONN") else None)
            try:
                socket.create_connection(("127.0.0.1", real_port), timeout=_patience(deadline)).close()
            except OSError as exc:
                raise _fail(f"connecting to the server on port {real_port} failed: {exc!r}.",
                            hint="call listen() after bind()") from exc
            if listening == 0:  # pragma: no cover - the connect above fails first
                raise _fail("the socket is not listening.", hint="call listen() after bind()")
        if len(socks) == 2 and socks[0].getsockname()[1] == socks[1].getsockname()[1]:
            raise _fail(f"two servers from {what} share port {socks[0].getsockname()[1]}.",
                        hint="bind to port 0 so each server gets its own free port")
    finally:
        for s in socks:
            hard_close(s)
    if edge_cases:
        _check_error_paths(start_server, what=what)


def _check_error_paths(fn, *args, what: str) -> None:
    """bind() and listen() failing, with two kinds of error: the error propagates, nothing leaks."""
    for method, code in (("bind", errno.EADDRINUSE), ("listen", errno.EACCES)):
        faults.check_cleans_up(fn, *args, method=method, error=OSError(code, os.strerror(code)),
                               what=f"{what} (when {method}() fails with {errno_name(code)})")


def _time_wait_port() -> int:
    """Leave a port whose server side is in TIME_WAIT (server closed first).

    The old server sets SO_REUSEADDR too, as the previous run of a restarted
    server would: Linux lets a new socket share the port with a TIME_WAIT
    connection only if both sockets set the option.
    """
    with socket.socket() as srv:
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind(("127.0.0.1", 0))
        srv.listen(1)
        port = srv.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port), timeout=DEFAULT_DEADLINE) as cli:
            conn, _ = srv.accept()
            conn.close()  # the server closes first: its end goes to TIME_WAIT
            cli.settimeout(DEFAULT_DEADLINE)
            cli.recv(1)  # wait for the FIN
    return port


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def check_reuseaddr_listener(make_listener, *, edge_cases: bool = True,
                             deadline: float | None = None) -> None:
    """``make_listener(port)``: listen on ('127.0.0.1', port) with SO_REUSEADDR set.

    Edge case: the port's previous server closed with a connection still
    in TIME_WAIT, which only SO_REUSEADDR (set before bind) lets it rebind
    on Linux and macOS.  Windows does not block such a rebind; there only
    the option itself is checked.
    """
    port = _time_wait_port() if edge_cases else _free_port()
    what = f"make_listener({port})"
    sock = None
    try:
        try:
            sock = _call(make_listener, port, what=what, deadline=deadline)
        except AssertionError as exc:
            cause = exc.__cause__
            if isinstance(cause, OSError) and cause.errno in ADDRINUSE_ERRNOS:
                raise _fail(f"{what} could not bind: {errno_name(cause.errno)}; the port's "
                            f"previous connection is still in TIME_WAIT.",
                            hint="set SO_REUSEADDR before bind(): "
                                 "sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)"
                            ) from cause
            raise
        if not isinstance(sock, socket.socket):
            raise _fail(f"{what} should return the listening socket.", got=_show(sock))
        if not sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR):
            raise _fail("SO_REUSEADDR is not set on the socket.",
                        hint="sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1), "
                             "before bind()")
        if sock.getsockname() != ("127.0.0.1", port):
            raise _fail("the socket is bound to the wrong address.",
                        expected=("127.0.0.1", port), got=sock.getsockname())
        try:
            socket.create_connection(("127.0.0.1", port), timeout=_patience(deadline)).close()
        except OSError as exc:
            raise _fail(f"connecting to port {port} failed: {exc!r}.",
                        hint="call listen() after bind()") from exc
    finally:
        hard_close(sock if isinstance(sock, socket.socket) else None)
    if edge_cases:
        _check_error_paths(make_listener, _free_port(), what="make_listener(port)")


def check_dualstack_server(make_dualstack_server, *, deadline: float | None = None) -> bool:
    """``make_dualstack_server()``: one AF_INET6 listener reachable via 127.0.0.1 and ::1.

    Returns False (after printing why) where the platform has no dual-stack
    sockets, True when the check ran and passed.  Where it has none, the
    function is still called, so that a blank stub cannot pass:
    ``create_server`` raises ValueError or OSError there, which is accepted,
    as is a returned AF_INET6 socket (closed at once); anything else, e.g.
    the stub's NotImplementedError or a None, fails as usual.
    """
    what = "make_dualstack_server()"
    if not dualstack_available():
        try:
            sock = _call(make_dualstack_server, what=what, deadline=deadline)
        except AssertionError as exc:
            if not isinstance(exc.__cause__, (ValueError, OSError)):
                raise
        else:
            try:
                if not isinstance(sock, socket.socket):
                    raise _fail(f"{what} should return the listening socket (or, where "
                                f"dual-stack sockets are unavailable, let create_server's "
                                f"error propagate).", got=_show(sock))
                if sock.family != socket.AF_INET6:
                    raise _fail(f"{what} returned a {sock.family!r} socket.",
                                expected="AF_INET6",
                                hint="socket.create_server(('', 0), family=socket.AF_INET6, "
                                     "dualstack_ipv6=True)")
            finally:
                hard_close(sock if isinstance(sock, socket.socket) else None)
        skip_unless(False, "dual-stack IPv6 sockets (IPV6_V6ONLY off) are not available")
        return False
    sock = _call(make_dualstack_server, what=what, deadline=deadline)
    try:
        if not isinstance(sock, socket.socket):
            raise _fail(f"{what} should return the listening socket.", got=_show(sock))
        if sock.family != socket.AF_INET6:
            raise _fail(f"{what} returned a {sock.family!r} socket.", expected="AF_INET6",
                        hint="socket.create_server(('', 0), family=socket.AF_INET6, "
                             "dualstack_ipv6=True)")
        if sock.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY):
            raise _fail("IPV6_V6ONLY is on, so IPv4 clients cannot connect.",
                        hint="pass dualstack_ipv6=True to create_server")
        port = sock.getsockname()[1]
        for host in ("127.0.0.1", "::1"):
            try:
                socket.create_connection((host, port), timeout=_patience(deadline)).close()
            except OSError as exc:
                raise _fail(f"a client could not connect via {host}: {exc!r}.",
                            hint="the server must listen on all addresses ('') with "
                                 "dualstack_ipv6=True") from exc
    finally:
        hard_close(sock if isinstance(sock, socket.socket) else None)
    return True
