"""Tests for course_lib.checks.constants (section 02 helpers)."""
from __future__ import annotations

import socket

import pytest

from course_lib.checks.constants import SUPPORT_KEYS, expected_support, pretend_platform, read_options
from course_lib.probes import constant_available, ipv6_available


def test_pretend_platform_hides_names_and_restores_them_even_after_an_error():
    original_nonblock = getattr(socket, "SOCK_NONBLOCK", None)
    original_has_ipv6 = socket.has_ipv6
    with pytest.raises(RuntimeError):
        with pretend_platform("SOCK_NONBLOCK", "NO_SUCH_NAME", has_ipv6=False):
            assert not hasattr(socket, "SOCK_NONBLOCK")
            assert not hasattr(socket, "NO_SUCH_NAME")
            assert socket.has_ipv6 is False
            raise RuntimeError("the code under test failed")
    assert getattr(socket, "SOCK_NONBLOCK", None) == original_nonblock
    assert not hasattr(socket, "NO_SUCH_NAME")
    assert socket.has_ipv6 == original_has_ipv6


def test_pretend_platform_can_add_a_name_and_removes_it_again():
    with pretend_platform(NO_SUCH_NAME=123):
        assert socket.NO_SUCH_NAME == 123
    assert not hasattr(socket, "NO_SUCH_NAME")


def test_read_options_reports_what_the_kernel_holds():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        assert read_options(s)["nodelay"] is False
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
        got = read_options(s)
        assert got["reuseaddr"] is True and got["nodelay"] is True
        assert got["rcvbuf"] == s.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
        assert read_options(u)["nodelay"] is None      # TCP_NODELAY does not apply to UDP
    a, b = socket.socketpair()
    with a, b:
        is_tcp = a.family in (socket.AF_INET, socket.AF_INET6)   # Windows socketpair is TCP
        assert (read_options(a)["nodelay"] is None) == (not is_tcp)


def test_expected_support_agrees_with_the_shared_probes():
    got = expected_support()
    assert tuple(got) == SUPPORT_KEYS
    assert all(isinstance(v, bool) for v in got.values())
    assert got["IPv6"] == ipv6_available()
    assert got["SOCK_NONBLOCK"] == constant_available("SOCK_NONBLOCK")
