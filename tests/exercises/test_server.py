"""Section 03's servers against the shared checks its notebook calls.

The notebook's hidden cells used to run a separate ``check_large_upload`` before the shared checks, because the shared
checks reported a serving loop that calls ``recv`` once as a connection
error.  They now name the mistake themselves; these tests pin that down with
the section's own kinds of wrong answer.
"""
from __future__ import annotations

import threading

import pytest

from course_lib import checks


def echo(conn):
    with conn:
        while data := conn.recv(65536):
            conn.sendall(data)


def serve_clients(listener, n):
    for _ in range(n):
        conn, _ = listener.accept()
        echo(conn)


def serve_clients_single_recv(listener, n):
    for _ in range(n):
        conn, _ = listener.accept()
        with conn:
            conn.sendall(conn.recv(65536))


def serve_concurrently(listener, n):
    threads = [threading.Thread(target=echo, args=(listener.accept()[0],)) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def serve_threads_no_join(listener, n):
    """Its threads die with an OSError once the harness closes their sockets: must stay quiet."""
    for _ in range(n):
        conn, _ = listener.accept()
        threading.Thread(target=echo, args=(conn,), daemon=True).start()


def serve_concurrently_big_recv(listener, n):
    """One recv(1 MiB) per thread: the 64 KiB payloads may fit, the 256 KiB upload does not."""
    def handle(conn):
        with conn:
            conn.sendall(conn.recv(1 << 20))

    threads = [threading.Thread(target=handle, args=(listener.accept()[0],)) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def serve_garbled(listener, n):
    for _ in range(n):
        conn, _ = listener.accept()
        with conn:
            while data := conn.recv(65536):
                conn.sendall(data[::-1])


def test_correct_servers_pass():
    checks.check_sequential_server(serve_clients, 3)
    checks.check_sequential_server(serve_clients, 1)
    checks.check_concurrent_server(serve_concurrently, n=10)


def test_single_recv_is_named():
    with pytest.raises(AssertionError, match=r"echoed \d+ of the 262144 bytes client 2 sent"):
        checks.check_sequential_server(serve_clients_single_recv, 3)


def test_large_upload_is_an_edge_case_of_the_concurrent_check():
    with pytest.raises(AssertionError, match=r"echoed \d+ of the \d+ bytes client"):
        checks.check_concurrent_server(serve_concurrently_big_recv, n=10)


def test_returning_before_serving_is_named(capfd):
    with pytest.raises(AssertionError, match="join each one before returning"):
        checks.check_concurrent_server(serve_threads_no_join, n=10)
    assert capfd.readouterr().err == ""


def test_wrong_bytes_are_named():
    with pytest.raises(AssertionError, match="wrong echo"):
        checks.check_sequential_server(serve_garbled, 3)


def test_stub_error_passes_through():
    def stub(listener, n):
        raise NotImplementedError()

    with pytest.raises(NotImplementedError):
        checks.check_concurrent_server(stub, n=10)
