"""Section 04's framing halves and request client against the shared checks."""
from __future__ import annotations

import socket
import struct

import pytest

from course_lib import checks


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
    checks.check_send_msg(send_msg)
    checks.check_recv_msg(recv_msg)
    checks.check_send_msg(send_msg_send, edge_cases=False)
    with pytest.raises(AssertionError, match="sendall"):
        checks.check_send_msg(send_msg_send)
    checks.check_recv_msg(recv_msg_one_recv, edge_cases=False)
    with pytest.raises(AssertionError, match="recv_msg"):
        checks.check_recv_msg(recv_msg_one_recv)


def test_large_reply_is_an_edge_case_of_check_request():
    checks.check_request(request)
    checks.check_request(request_one_recv, edge_cases=False)
    with pytest.raises(AssertionError, match="stopped reading too early"):
        checks.check_request(request_one_recv)


def test_request_wants_bytes():
    def returns_str(port, data):
        return request(port, data).decode("latin-1")

    with pytest.raises(AssertionError, match="returned a str"):
        checks.check_request(returns_str)
