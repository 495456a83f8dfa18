"""Tests for course_lib.exercises.server (section 03 helpers)."""
from __future__ import annotations

import threading

import pytest

from course_lib.exercises.server import check_large_upload


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


def echo_until_closed(conn):
    """An abandoned thread's echo: the harness closes its socket under it when the check ends."""
    try:
        echo(conn)
    except OSError:
        pass


def serve_threads_no_join(listener, n):
    for _ in range(n):
        conn, _ = listener.accept()
        threading.Thread(target=echo_until_closed, args=(conn,), daemon=True).start()


def serve_garbled(listener, n):
    conn, _ = listener.accept()
    with conn:
        while data := conn.recv(65536):
            conn.sendall(data[::-1])


def test_correct_server_passes():
    check_large_upload(serve_clients, 1)


def test_single_recv_is_named():
    with pytest.raises(AssertionError, match=r"echoed only \d+ of the 262144 bytes"):
        check_large_upload(serve_clients_single_recv, 1)


def test_returning_before_serving_is_named():
    with pytest.raises(AssertionError, match="still open"):
        check_large_upload(serve_threads_no_join, 1)


def test_wrong_bytes_are_named():
    with pytest.raises(AssertionError, match="different bytes"):
        check_large_upload(serve_garbled, 1)


def test_stub_error_passes_through():
    def stub(listener, n):
        raise NotImplementedError()

    with pytest.raises(NotImplementedError):
        check_large_upload(stub, 1)
