"""Tests for course_lib.checks.utilities (section 05 helpers)."""
from __future__ import annotations

import socket
import struct
import threading

import pytest

from course_lib.checks.utilities import (
    RECORD_HEADER, bounded_call, check_record_stream, fake_getaddrinfo, pack_record,
)
from course_lib.failures import exception_name


def test_bounded_call_ok_error_timeout():
    assert bounded_call(lambda x: x + 1, 1).status == "ok"
    outcome = bounded_call(socket.inet_aton, "not an address")
    assert outcome.status == "error" and isinstance(outcome.value, OSError)
    release = threading.Event()
    slow = bounded_call(release.wait, 5, seconds=0.05)
    release.set()
    assert slow.status == "timeout" and "no answer" in slow.describe()


def test_fake_getaddrinfo_filters_fills_port_and_restores():
    real = socket.getaddrinfo
    v6 = (socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("2001:db8::1", 0, 0, 0))
    v4_udp = (socket.AF_INET, socket.SOCK_DGRAM, 17, "", ("192.0.2.1", 0))
    with fake_getaddrinfo([v6, v4_udp]) as calls:
        got = socket.getaddrinfo("x.example", "8080", type=socket.SOCK_STREAM)
        assert got == [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("2001:db8::1", 8080, 0, 0))]
        with pytest.raises(socket.gaierror):
            socket.getaddrinfo("x.example", 1, family=socket.AF_INET, type=socket.SOCK_STREAM)
    assert calls[0]["host"] == "x.example"
    assert socket.getaddrinfo is real


def test_pack_record_is_network_order():
    assert pack_record(7, b"hi") == b"\x00\x07\x00\x00\x00\x02hi"
    assert RECORD_HEADER.size == 6


def _good(sock):
    def exactly(n, may_end):
        buf = b""
        while len(buf) < n:
            chunk = sock.recv(n - len(buf))
            if not chunk:
                if may_end and not buf:
                    return None
                raise EOFError
            buf += chunk
        return buf
    header = exactly(6, True)
    if header is None:
        return None
    kind, length = RECORD_HEADER.unpack(header)
    return kind, exactly(length, False) if length else b""


def _one_recv(sock):
    kind, length = RECORD_HEADER.unpack(sock.recv(6))
    return kind, sock.recv(length)


def test_check_recv_record_accepts_good_and_rejects_bad():
    stream = pack_record(1, b"abc") + pack_record(2, b"")
    check_record_stream(_good, stream, [(1, b"abc"), (2, b""), None], chunk=1)
    check_record_stream(_good, stream, [EOFError], cut=4)
    with pytest.raises(AssertionError, match="What crossed the wire"):
        check_record_stream(_one_recv, stream, [(1, b"abc")], chunk=1)
    with pytest.raises(AssertionError, match="expected EOFError"):
        check_record_stream(lambda s: None, stream, [EOFError], cut=4)


def _asks_for_n(sock):
    """Asks recv for the whole field each time: right only while every recv returns at most what is missing."""
    def exactly(n):
        buf = b""
        while len(buf) < n:
            chunk = sock.recv(n)
            if not chunk:
                raise EOFError
            buf += chunk
        return buf
    kind, length = RECORD_HEADER.unpack(exactly(6))
    return kind, exactly(length)


def test_the_pieces_do_not_depend_on_the_scheduler():
    """The whole stream is waiting before the first read, and one-byte pieces still come one at a time:
    a reader that asks for n each time gets the same verdict on a busy machine as on a quiet one."""
    stream = pack_record(1, b"hello") + pack_record(2, b"world")
    check_record_stream(_asks_for_n, stream, [(1, b"hello"), (2, b"world")], chunk=1)
    with pytest.raises(AssertionError, match="each recv returns at most 1 byte"):
        check_record_stream(_one_recv, stream, [(1, b"hello")], chunk=1)


def test_exception_name():
    try:
        struct.pack("!H", -1)
    except struct.error as exc:
        assert exception_name(exc) == "struct.error"
    assert exception_name(ValueError()) == "ValueError"
    assert exception_name(socket.gaierror()) == "socket.gaierror"
