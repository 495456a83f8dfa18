"""course_lib.faults: each fault shows up for learner code, leaves the harness alone, and is undone."""
from __future__ import annotations

import errno
import select
import socket
import time

import pytest

from course_lib import faults, peers, probes


def test_short_sends_send_half_and_are_undone():
    a, b = socket.socketpair()
    with a, b:
        with faults.short_sends() as made:
            assert a.send(b"0123456789") == 5
            a.sendall(b"abcdef")  # sendall still sends everything
        assert made[0] == 1
        assert a.send(b"xy") == 2
        assert b.recv(100) == b"01234abcdefxy"
    assert "send" not in vars(socket.socket)


def test_inject_raises_for_chosen_calls_and_connect_ex_returns_the_code():
    refused = ConnectionRefusedError(errno.ECONNREFUSED, "refused (injected)")
    with peers.echo_server() as srv:
        with faults.inject("connect", refused, after=1) as seen:
            socket.create_connection(srv.address, timeout=2).close()
            with pytest.raises(ConnectionRefusedError):
                socket.create_connection(srv.address, timeout=2)
        assert (seen.calls, seen.raised) == (2, 1)
        with faults.inject("connect_ex", OSError(errno.EHOSTUNREACH, "unreachable")), socket.socket() as s:
            assert s.connect_ex(srv.address) == errno.EHOSTUNREACH
    assert "connect" not in vars(socket.socket) and "connect_ex" not in vars(socket.socket)


def test_refuse_family():
    original = socket.socket.__init__
    with faults.refuse_family(socket.AF_INET6):
        with pytest.raises(OSError) as info:
            socket.socket(socket.AF_INET6)
        assert info.value.errno == errno.EAFNOSUPPORT
        socket.socket(socket.AF_INET).close()
    assert socket.socket.__init__ is original


def test_pretend_errnos_changes_symbols_sets_and_raised_numbers():
    linux_refused = errno.ECONNREFUSED
    with peers.refused_address() as address:
        with faults.pretend_errnos("darwin"):
            assert errno.ECONNREFUSED == 61 and errno.errorcode[61] == "ECONNREFUSED"
            assert probes.REFUSED_ERRNOS == {61}
            with socket.socket() as s:
                assert s.connect_ex(address) == 61
            with pytest.raises(ConnectionRefusedError) as info, socket.socket() as s:
                s.connect(address)
            assert info.value.errno == 61
            with socket.socket() as s:  # a non-blocking connect's outcome, read with SO_ERROR after select
                s.setblocking(False)
                s.connect_ex(address)
                select.select([], [s], [], 2.0)
                assert s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 61
        with faults.pretend_errnos("win32"):
            assert errno.ECONNREFUSED == errno.WSAECONNREFUSED == 10061
    assert errno.ECONNREFUSED == linux_refused
    assert probes.REFUSED_ERRNOS == frozenset({linux_refused}) | probes._errnos("WSAECONNREFUSED")


def test_record_sleeps():
    with faults.record_sleeps() as delays:
        time.sleep(0.001)  # noqa: TID251 - sleep-ok: the sleeps being recorded
        time.sleep(0.002)  # noqa: TID251 - sleep-ok: the sleeps being recorded
    assert delays == [0.001, 0.002]


def test_quick_timeouts_shorten_the_learners_timeouts_and_record_what_they_asked_for():
    before = socket.getdefaulttimeout()
    with faults.unresponsive_address() as silent:
        if silent is None:
            pytest.skip("connects never time out here")
        with faults.quick_timeouts(10) as asked, socket.socket() as s:
            s.settimeout(1.0)
            assert s.gettimeout() == pytest.approx(0.1)
            start = time.monotonic()
            code = s.connect_ex(silent)
            took = time.monotonic() - start
            socket.setdefaulttimeout(2.0)
            assert socket.getdefaulttimeout() == pytest.approx(0.2)
            s.settimeout(None)  # (no timeout, and 0, are passed through as they are)
            assert s.gettimeout() is None
        assert code in probes.WOULDBLOCK_ERRNOS | probes.TIMEOUT_ERRNOS and took < 0.9
        assert asked == [1.0, 2.0]
        assert socket.getdefaulttimeout() == 2.0  # the default the learner set is theirs, as they asked
    socket.setdefaulttimeout(before)
    with socket.socket() as s:
        s.settimeout(1.0)
        assert s.gettimeout() == 1.0


def test_assert_exact():
    faults.assert_exact({"a": True, "b": [1, (2, None)]}, {"a": True, "b": [1, (2, None)]}, "x")
    with pytest.raises(AssertionError, match="other types"):
        faults.assert_exact({"a": 1}, {"a": True}, "x")


def _leaks_on_error():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    return s


def _closes_on_error():
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", 0))
    except OSError:
        s.close()
        raise
    return s


def test_check_cleans_up():
    error = OSError(errno.EADDRINUSE, "in use (injected)")
    faults.check_cleans_up(_closes_on_error, method="bind", error=error, what="closes")
    with pytest.raises(AssertionError, match="garbage collector|left"):
        faults.check_cleans_up(_leaks_on_error, method="bind", error=error, what="leaks")


def test_watch_sees_timeouts():
    with peers.echo_server() as srv, faults.watch_timeouts("recv") as seen:
        with socket.create_connection(srv.address, timeout=2) as s:
            s.sendall(b"x")
            s.recv(1)
        with socket.create_connection(srv.address) as s:
            s.sendall(b"y")
            s.recv(1)
    assert seen == [2.0, None]


def test_unresponsive_address_times_out_or_is_none():
    with faults.unresponsive_address() as address:
        if address is None:
            pytest.skip("connects never time out here")
        with socket.socket() as s:
            s.settimeout(0.2)
            assert s.connect_ex(address) in probes.WOULDBLOCK_ERRNOS | probes.TIMEOUT_ERRNOS
