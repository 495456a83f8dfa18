"""Tests for course_lib.checks.provoke (section 06 helpers)."""
from __future__ import annotations

import errno
import socket

import pytest

from course_lib.checks.provoke import (
    KINDS, broken_pipe_is_deterministic, count_connect_attempts, describe, no_leaks, provoke,
    returned, send_until_false,
)
from course_lib.peers import refused_address
from course_lib.resources import count_open_fds

EXPECTED = {
    "refused": ConnectionRefusedError, "reset": ConnectionResetError, "broken_pipe": BrokenPipeError,
    "timeout": TimeoutError, "would_block": BlockingIOError, "addr_in_use": OSError,
    "resolution": socket.gaierror,
}


@pytest.mark.parametrize("kind", KINDS)
def test_provoke_gives_the_real_error_and_leaks_nothing(kind):
    if kind == "broken_pipe" and not broken_pipe_is_deterministic():
        pytest.skip("no AF_UNIX socketpair")
    with no_leaks(f"provoke({kind!r})"):
        exc = provoke(kind)
    assert isinstance(exc, EXPECTED[kind])
    if kind == "addr_in_use":
        assert exc.errno == errno.EADDRINUSE


def test_provoke_rejects_unknown_kind():
    with pytest.raises(ValueError):
        provoke("nope")


def test_no_leaks_catches_open_and_dropped_sockets():
    if count_open_fds() is None:
        pytest.skip("descriptors cannot be listed on this platform")
    kept = []
    with pytest.raises(AssertionError, match="left 1 file descriptor"):
        with no_leaks("x"):
            kept.append(socket.socket())
    kept.pop().close()
    with pytest.raises(AssertionError, match="dropped 1 socket"):
        with no_leaks("x"):
            socket.socket()
    with no_leaks("x"):
        with socket.socket():
            pass


def test_count_connect_attempts_counts_and_restores():
    real = socket.socket.connect
    with refused_address() as address, count_connect_attempts() as counter:
        for _ in range(2):
            with pytest.raises(ConnectionRefusedError):
                socket.create_connection(address, timeout=1)
        with socket.socket() as s:
            assert s.connect_ex(address) != 0
    assert counter.attempts == 3
    assert socket.socket.connect is real


def test_send_until_false():
    a, b = socket.socketpair()
    with a:
        b.close()

        def good(sock, data):
            try:
                sock.sendall(data)
            except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
                return False
            return True

        assert send_until_false(good, a, b"x", deadline=1.0) >= 1
        with pytest.raises(AssertionError, match="should return False"):
            send_until_false(lambda s, d: s.sendall(d) or True, a, b"x", deadline=1.0)
        with pytest.raises(AssertionError, match="kept returning True"):
            send_until_false(lambda s, d: True, a, b"x", deadline=0.01)


def test_describe_and_returned():
    assert "errno ECONNREFUSED" in describe(OSError(errno.ECONNREFUSED, "refused"))
    assert "resolver code" in describe(socket.herror(1, "Unknown host"))
    assert describe(ValueError("v")) == "ValueError('v')"
    s = socket.socket()
    assert "socket.socket" in returned(s)
    assert s.fileno() == -1
