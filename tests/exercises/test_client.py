"""Tests for course_lib.exercises.client (section 04 helpers)."""
from __future__ import annotations

import socket
import struct

import pytest

from course_lib.exercises.client import check_recv_msg, check_request_large_reply, check_send_msg


def send_msg(sock, payload):
    sock.sendall(struct.pack("!I", len(payload)) + payload)


def send_msg_send(sock, payload):
    sock.send(struct.pack("!I", len(payload)) + payload)


def recv_msg(sock):
    def exactly(n):
        data = bytearray()
        while len(data) < n:
            chunk = sock.recv(n - len(data))
            if not chunk:
                break
            data += chunk
        return bytes(data)

    header = exactly(4)
    if not header:
        return None
    if len(header) < 4:
        raise EOFError
    payload = exactly(struct.unpack("!I", header)[0])
    if len(payload) < struct.unpack("!I", header)[0]:
        raise EOFError
    return payload


def recv_msg_one_recv(sock):
    header = sock.recv(4)
    if not header:
        return None
    n = struct.unpack("!I", header)[0]
    return sock.recv(n) if n else b""


def request(port, data):
    with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def request_one_recv(port, data):
    with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        return sock.recv(65536)


def test_framing_halves_pass_and_fail_separately():
    check_send_msg(send_msg)
    check_recv_msg(recv_msg)
    check_send_msg(send_msg_send, edge_cases=False)
    with pytest.raises(AssertionError):
        check_send_msg(send_msg_send)
    check_recv_msg(recv_msg_one_recv, edge_cases=False)
    with pytest.raises(AssertionError):
        check_recv_msg(recv_msg_one_recv)


def test_large_reply():
    check_request_large_reply(request)
    with pytest.raises(AssertionError, match="stopped reading too early"):
        check_request_large_reply(request_one_recv)


def test_large_reply_wants_bytes():
    def returns_str(port, data):
        return request(port, data).decode("latin-1")

    with pytest.raises(AssertionError, match="should return bytes"):
        check_request_large_reply(returns_str)
