"""Tests for course_lib.checks.creation (section 01 helpers)."""
from __future__ import annotations

import gc
import socket
import warnings

import pytest

from course_lib.checks.creation import (
    assert_carries, check_closes_everything, check_socket, release_clone, tcp_pair,
)
from course_lib.resources import count_open_fds


def test_check_socket_accepts_the_right_socket_and_names_what_is_wrong():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        check_socket(s, socket.AF_INET, socket.SOCK_DGRAM)
        with pytest.raises(AssertionError, match="expected type SOCK_STREAM, got SOCK_DGRAM"):
            check_socket(s, socket.AF_INET, socket.SOCK_STREAM)
    with pytest.raises(AssertionError, match="closed before you returned it"):
        check_socket(s, socket.AF_INET, socket.SOCK_DGRAM)
    with pytest.raises(AssertionError, match="expected a socket.socket object, got NoneType"):
        check_socket(None, socket.AF_INET, socket.SOCK_DGRAM)


def test_tcp_pair_is_connected_ipv4_tcp_and_closed_afterwards():
    with tcp_pair() as (a, b):
        assert (a.family, a.type) == (socket.AF_INET, socket.SOCK_STREAM)
        assert a.getpeername() == b.getsockname()
        assert_carries(a, b, b"x" * 1000)
    assert a.fileno() == -1 and b.fileno() == -1


def test_assert_carries_fails_between_unrelated_connections():
    with tcp_pair() as (a, _), tcp_pair() as (_, d):
        with pytest.raises(AssertionError, match="but b'' arrived"):
            assert_carries(a, d, b"ping")


def test_release_clone_leaves_exactly_one_owner():
    with tcp_pair() as (a, b):
        fd = a.fileno()
        shared = socket.socket(fileno=fd)      # the mistake: two owners, one descriptor
        release_clone(a, shared)
        assert shared.fileno() == -1 and a.fileno() == -1
        # The descriptor was closed once, by the clone: the peer sees end of stream.
        assert b.recv(1) == b""
    with tcp_pair() as (a, _):
        copy = a.dup()
        release_clone(a, copy)
        assert copy.fileno() == -1 and a.fileno() != -1
    release_clone(a, None)                     # a stub's None: nothing to do


def _drops_a_socket():
    socket.socket()


def _binds_then_fails(kept=None):
    s = socket.socket()
    if kept is not None:
        kept.append(s)
    s.bind(("127.0.0.1", 0))
    raise OSError("simulated bind failure")


def _closes_then_fails():
    with socket.socket():
        raise OSError("simulated bind failure")


def test_check_closes_everything_passes_a_tidy_function_through():
    assert check_closes_everything(lambda x: x + 1, 41) == 42
    err = check_closes_everything(_closes_then_fails, expect_error=OSError)
    assert isinstance(err, OSError)


def test_check_closes_everything_catches_a_socket_left_to_the_garbage_collector():
    with pytest.raises(AssertionError, match="garbage collector"):
        check_closes_everything(_drops_a_socket)


@pytest.mark.skipif(count_open_fds() is None, reason="descriptors cannot be listed here")
def test_check_closes_everything_counts_descriptors_while_the_error_is_alive():
    with pytest.raises(AssertionError, match="raised OSError.*as it should, but left 1 descriptor"):
        check_closes_everything(_binds_then_fails, expect_error=OSError)
    with warnings.catch_warnings():  # the socket the error kept alive is garbage now, in the oldest generation
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()
    kept = []
    with pytest.raises(AssertionError, match="left 1 file descriptor"):
        check_closes_everything(lambda: kept.append(socket.socket()))
    kept.pop().close()


def _stub():
    raise NotImplementedError()


def test_check_closes_everything_requires_the_expected_error_and_passes_others_on():
    with pytest.raises(AssertionError, match="expected OSError to be raised"):
        check_closes_everything(lambda: [], expect_error=OSError)
    with pytest.raises(NotImplementedError):       # a blank stub fails its test cell at once
        check_closes_everything(_stub, expect_error=OSError)
