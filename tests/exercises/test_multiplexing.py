"""Section 07's checks against correct answers and the mistakes learners make.

Each check must pass the reference solution (the same code as the notebook's) and fail a wrong answer
with a message that names the mistake.
"""
from __future__ import annotations

import os
import select
import selectors
import socket
import ssl
import threading

import pytest

from course_lib.exercises import multiplexing as mux


# -- exercise 1 --------------------------------------------------------------------------------

def flush(sock, outbox):
    while outbox:
        try:
            n = sock.send(outbox)
        except BlockingIOError:
            return False
        del outbox[:n]
    return True


def flush_clears_all(sock, outbox):
    try:
        sock.send(outbox)
    except BlockingIOError:
        return False
    outbox.clear()
    return True


def flush_sendall(sock, outbox):
    sock.sendall(outbox)
    outbox.clear()
    return True


def flush_busy(sock, outbox):
    while outbox:
        try:
            n = sock.send(outbox)
        except BlockingIOError:
            continue
        del outbox[:n]
    return True


def flush_swallows(sock, outbox):
    while outbox:
        try:
            n = sock.send(outbox)
        except OSError:
            return False
        del outbox[:n]
    return True


def test_flush_correct():
    mux.check_flush(flush)


@pytest.mark.parametrize("wrong,visible,pattern", [
    (flush_clears_all, True, "only .* reached the other side"),
    (flush_sendall, False, "BlockingIOError"),
    (flush_busy, False, "did not finish|did not return"),
    (flush_swallows, False, "other side had closed"),
])
def test_flush_wrong(wrong, visible, pattern):
    if not visible:
        mux.check_flush(wrong, edge_cases=False)
    with pytest.raises(AssertionError, match=pattern):
        mux.check_flush(wrong)


# -- exercise 2 --------------------------------------------------------------------------------

def connect_nonblocking(address, timeout):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setblocking(False)
        sock.connect_ex(address)
        _, writable, failed = select.select([], [sock], [sock], timeout)
        if not writable and not failed:
            raise TimeoutError(f"connect to {address} timed out")
        err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err:
            raise OSError(err, os.strerror(err))
    except BaseException:
        sock.close()
        raise
    return sock


def connect_no_so_error(address, timeout):
    sock = socket.socket()
    sock.setblocking(False)
    sock.connect_ex(address)
    _, w, _ = select.select([], [sock], [sock], timeout)
    if not w:
        sock.close()
        raise TimeoutError()
    return sock


def connect_einprogress_fails(address, timeout):
    sock = socket.socket()
    sock.setblocking(False)
    err = sock.connect_ex(address)
    if err:
        sock.close()
        raise OSError(err, os.strerror(err))
    return sock


def connect_blocking(address, timeout):
    sock = socket.socket()
    try:
        sock.connect(address)
    except BaseException:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


def connect_leaks(address, timeout):
    sock = socket.socket()
    sock.setblocking(False)
    sock.connect_ex(address)
    _, w, x = select.select([], [sock], [sock], timeout)
    if not (w or x):
        raise TimeoutError()
    err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
    if err:
        raise OSError(err, os.strerror(err))
    return sock


def test_connect_correct():
    mux.check_connect_nonblocking(connect_nonblocking)


@pytest.mark.parametrize("wrong,visible,pattern", [
    (connect_einprogress_fails, True, "EINPROGRESS as a failure"),
    (connect_no_so_error, False, "SO_ERROR"),
    (connect_leaks, False, "garbage collector"),
])
def test_connect_wrong(wrong, visible, pattern):
    if not visible:
        mux.check_connect_nonblocking(wrong, edge_cases=False)
    with pytest.raises(AssertionError, match=pattern):
        mux.check_connect_nonblocking(wrong)


def test_connect_blocking_is_caught_where_a_connect_can_hang():
    with mux.unanswered_address() as address:
        if address is None:
            pytest.skip("this platform answers a full backlog")
    with pytest.raises(AssertionError, match="did not finish"):
        mux.check_connect_nonblocking(connect_blocking)


# -- exercise 3 --------------------------------------------------------------------------------

def serve_many(listener, n):
    listener.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(listener, selectors.EVENT_READ, None)
    accepted = closed = 0
    limit = 256 * 1024

    def close(conn):
        nonlocal closed
        sel.unregister(conn)
        conn.close()
        closed += 1

    try:
        while closed < n:
            for key, events in sel.select():
                if key.data is None:
                    conn, _ = listener.accept()
                    conn.setblocking(False)
                    sel.register(conn, selectors.EVENT_READ, bytearray())
                    accepted += 1
                    if accepted == n:
                        sel.unregister(listener)
                    continue
                conn, outbox = key.fileobj, key.data
                try:
                    if events & selectors.EVENT_READ:
                        data = conn.recv(65536)
                        if not data:
                            close(conn)
                            continue
                        outbox += data
                    if outbox:
                        n_sent = conn.send(outbox)
                        del outbox[:n_sent]
                except BlockingIOError:
                    pass
                except OSError:
                    close(conn)
                    continue
                wanted = selectors.EVENT_WRITE if outbox else 0
                if len(outbox) < limit:
                    wanted |= selectors.EVENT_READ
                if wanted != key.events:
                    sel.modify(conn, wanted, outbox)
    finally:
        sel.close()


def serve_many_threads(listener, n):
    def echo(conn):
        with conn:
            while data := conn.recv(65536):
                conn.sendall(data)

    threads = [threading.Thread(target=echo, args=(listener.accept()[0],)) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def serve_many_sendall(listener, n):
    sel = selectors.DefaultSelector()
    sel.register(listener, selectors.EVENT_READ)
    done = 0
    while done < n:
        for key, _ in sel.select():
            if key.fileobj is listener:
                conn, _ = listener.accept()
                sel.register(conn, selectors.EVENT_READ)
                continue
            conn = key.fileobj
            try:
                data = conn.recv(65536)
            except ConnectionError:
                data = b""
            if not data:
                sel.unregister(conn)
                conn.close()
                done += 1
                continue
            try:
                conn.sendall(data)
            except ConnectionError:
                pass
    sel.close()


def serve_many_no_unregister(listener, n):
    sel = selectors.DefaultSelector()
    sel.register(listener, selectors.EVENT_READ)
    done = 0
    while done < n:
        for key, _ in sel.select():
            if key.fileobj is listener:
                conn, _ = listener.accept()
                sel.register(conn, selectors.EVENT_READ)
                continue
            conn = key.fileobj
            data = conn.recv(65536)
            if not data:
                conn.close()
                done += 1
                continue
            conn.sendall(data)
    sel.close()


def test_serve_many_correct():
    mux.check_serve_many(serve_many)


def test_serve_many_threads_are_named():
    with pytest.raises(AssertionError, match="extra thread"):
        mux.check_serve_many(serve_many_threads, edge_cases=False)


def test_serve_many_unregister_is_named():
    with pytest.raises(AssertionError, match="unregister"):
        mux.check_serve_many(serve_many_no_unregister, edge_cases=False)


def test_serve_many_stall_is_named():
    mux.check_serve_many(serve_many_sendall, edge_cases=False)
    with pytest.raises(AssertionError, match="stuck on client 1|BlockingIOError"):
        mux.check_serve_many(serve_many_sendall)


# -- exercise 4 --------------------------------------------------------------------------------

def relay(listener, n):
    clients = {}
    for _ in range(n):
        conn, _ = listener.accept()
        clients[conn] = bytearray()
    sel = selectors.DefaultSelector()
    for conn in clients:
        sel.register(conn, selectors.EVENT_READ)

    def drop(conn):
        sel.unregister(conn)
        conn.close()
        del clients[conn]

    try:
        while clients:
            for key, _ in sel.select():
                conn = key.fileobj
                if conn not in clients:
                    continue
                try:
                    data = conn.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    drop(conn)
                    continue
                buf = clients[conn]
                buf += data
                while b"\n" in buf:
                    end = buf.index(b"\n") + 1
                    line = bytes(buf[:end])
                    del buf[:end]
                    for other in list(clients):
                        if other is not conn:
                            try:
                                other.sendall(line)
                            except OSError:
                                drop(other)
    finally:
        sel.close()


def relay_chunks(listener, n):
    clients = [listener.accept()[0] for _ in range(n)]
    sel = selectors.DefaultSelector()
    for c in clients:
        sel.register(c, selectors.EVENT_READ)
    while clients:
        for key, _ in sel.select():
            conn = key.fileobj
            try:
                data = conn.recv(65536)
            except OSError:
                data = b""
            if not data:
                sel.unregister(conn)
                conn.close()
                clients.remove(conn)
                continue
            for other in clients:
                if other is not conn:
                    try:
                        other.sendall(data)
                    except OSError:
                        pass
    sel.close()


def relay_to_everyone(listener, n):
    clients = [listener.accept()[0] for _ in range(n)]
    sel = selectors.DefaultSelector()
    for c in clients:
        sel.register(c, selectors.EVENT_READ)
    while clients:
        for key, _ in sel.select():
            conn = key.fileobj
            data = conn.recv(65536)
            if not data:
                sel.unregister(conn)
                conn.close()
                clients.remove(conn)
                continue
            for other in clients:
                other.sendall(data)
    sel.close()


def test_relay_correct():
    mux.check_relay(relay)


def test_relay_chunks_are_named():
    mux.check_relay(relay_chunks, edge_cases=False)
    with pytest.raises(AssertionError, match="middle of a line|cut or glued"):
        mux.check_relay(relay_chunks)


def test_relay_echo_to_sender_is_named():
    with pytest.raises(AssertionError, match="should have received"):
        mux.check_relay(relay_to_everyone, edge_cases=False)


# -- exercise 5 --------------------------------------------------------------------------------

def tls_echo(port, server_name, cafile, message):
    context = ssl.create_default_context(cafile=cafile)
    with socket.create_connection(("127.0.0.1", port), timeout=2) as raw:
        with context.wrap_socket(raw, server_hostname=server_name) as tls:
            tls.sendall(message)
            reply = bytearray()
            while len(reply) < len(message):
                chunk = tls.recv(len(message) - len(reply))
                if not chunk:
                    raise EOFError("the server closed before the whole echo arrived")
                reply += chunk
    return bytes(reply)


def tls_echo_unverified(port, server_name, cafile, message):
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=2) as raw:
        with context.wrap_socket(raw) as tls:
            tls.sendall(message)
            reply = b""
            while len(reply) < len(message):
                reply += tls.recv(65536)
    return reply


def tls_echo_no_hostname_check(port, server_name, cafile, message):
    context = ssl.create_default_context(cafile=cafile)
    context.check_hostname = False
    with socket.create_connection(("127.0.0.1", port), timeout=2) as raw:
        with context.wrap_socket(raw) as tls:
            tls.sendall(message)
            reply = b""
            while len(reply) < len(message):
                reply += tls.recv(65536)
    return reply


def tls_echo_single_recv(port, server_name, cafile, message):
    context = ssl.create_default_context(cafile=cafile)
    with socket.create_connection(("127.0.0.1", port), timeout=2) as raw:
        with context.wrap_socket(raw, server_hostname=server_name) as tls:
            tls.sendall(message)
            return tls.recv(65536)


def tls_echo_ip_as_name(port, server_name, cafile, message):
    return tls_echo(port, "127.0.0.1", cafile, message)


def test_tls_correct():
    mux.check_tls_echo(tls_echo)


@pytest.mark.parametrize("wrong,visible,pattern", [
    (tls_echo_unverified, False, "went ahead"),
    (tls_echo_no_hostname_check, False, "is for 'wrong.example'"),
    (tls_echo_single_recv, False, "several records"),
    (tls_echo_ip_as_name, True, "refused the course server's valid certificate"),
])
def test_tls_wrong(wrong, visible, pattern):
    if not visible:
        mux.check_tls_echo(wrong, edge_cases=False)
    with pytest.raises(AssertionError, match=pattern):
        mux.check_tls_echo(wrong)


def test_stubs_pass_through():
    def stub(*args):
        raise NotImplementedError()

    for check in (mux.check_flush, mux.check_connect_nonblocking, mux.check_serve_many,
                  mux.check_relay, mux.check_tls_echo):
        with pytest.raises(NotImplementedError):
            check(stub)
