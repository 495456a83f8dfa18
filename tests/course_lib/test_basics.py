"""timing, probes, resources and transcript: the small pieces everything relies on."""

import errno
import os
import socket
import threading
import warnings

import pytest

from course_lib import probes, resources, timing
from course_lib.transcript import Transcript, abbreviate


# -- timing ---------------------------------------------------------------------

@pytest.mark.parametrize("raw, expected", [(None, 1.0), ("", 1.0), ("2.5", 2.5), (" 3 ", 3.0)])
def test_read_time_scale_accepts_positive_numbers(raw, expected):
    assert timing.read_time_scale(raw) == expected


@pytest.mark.parametrize("raw", ["abc", "0", "-1", "nan", "inf"])
def test_read_time_scale_rejects_nonsense_with_a_warning(raw):
    with pytest.warns(RuntimeWarning, match="SOCKET_COURSE_TIME_SCALE"):
        assert timing.read_time_scale(raw) == 1.0


def test_scaled_and_default_deadline():
    assert timing.scaled(2.0) == 2.0 * timing.TIME_SCALE
    assert timing.DEFAULT_DEADLINE == timing.scaled(2.0)


def test_deadline_remaining_never_negative():
    d = timing.Deadline(0.0)
    assert d.expired()
    assert d.remaining() == 0.0
    long = timing.Deadline(60)
    assert not long.expired() and 59 < long.remaining() <= 60
    assert "Deadline(60s" in repr(long)
    assert timing.Deadline().seconds == timing.DEFAULT_DEADLINE


# -- probes ---------------------------------------------------------------------

def test_probes_return_bools_and_are_cached():
    for probe in (probes.ipv6_available, probes.unix_available, probes.dualstack_available):
        assert probe() in (True, False)
        assert probe.cache_info().currsize == 1


def test_ipv6_probe_matches_a_real_bind():
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        works = True
    except OSError:
        works = False
    assert probes.ipv6_available() == works


def test_ipv6_probe_false_when_bind_fails(monkeypatch):
    probes.ipv6_available.cache_clear()
    probes.dualstack_available.cache_clear()

    class NoV6(socket.socket):
        def bind(self, address):
            raise OSError(errno.EADDRNOTAVAIL, "no ::1 here")

    monkeypatch.setattr(probes.socket, "socket", NoV6)
    try:
        assert probes.ipv6_available() is False
        assert probes.dualstack_available() is False
    finally:
        monkeypatch.undo()
        probes.ipv6_available.cache_clear()
        probes.dualstack_available.cache_clear()


def test_unix_probe_false_without_af_unix(monkeypatch):
    probes.unix_available.cache_clear()
    monkeypatch.delattr(probes.socket, "AF_UNIX", raising=False)
    try:
        assert probes.unix_available() is False
    finally:
        monkeypatch.undo()
        probes.unix_available.cache_clear()


def test_constant_available():
    assert probes.constant_available("SOCK_STREAM")
    assert not probes.constant_available("SOCK_DOES_NOT_EXIST")
    assert probes.constant_available("SOCK_NONBLOCK") == hasattr(socket, "SOCK_NONBLOCK")


def test_feature_available_knows_every_listed_feature():
    summary = probes.platform_summary()
    assert set(summary) == set(probes.FEATURES)
    assert all(isinstance(v, bool) for v in summary.values())
    assert probes.feature_available("SO_REUSEADDR")
    with pytest.raises(ValueError, match="unknown feature"):
        probes.feature_available("teleport")


def test_errno_sets_use_symbols():
    assert errno.ECONNREFUSED in probes.REFUSED_ERRNOS
    assert {errno.ECONNRESET, errno.EPIPE} <= probes.RESET_ERRNOS
    assert errno.EADDRINUSE in probes.ADDRINUSE_ERRNOS
    assert errno.ETIMEDOUT in probes.TIMEOUT_ERRNOS
    assert errno.ENETUNREACH in probes.UNREACHABLE_ERRNOS
    assert errno.EAGAIN in probes.WOULDBLOCK_ERRNOS
    assert probes._errnos("ENOT_A_REAL_SYMBOL") == frozenset()
    assert probes.errno_name(errno.ECONNREFUSED) == "ECONNREFUSED"
    assert probes.errno_name(None) == "no errno"
    assert probes.errno_name(987654) == "errno 987654"


def test_skip_unless_prints_where_and_why(capsys):
    assert probes.skip_unless(True, "never printed") is True
    assert capsys.readouterr().out == ""
    assert probes.skip_unless(False, "AF_UNIX is not available") is False
    out = capsys.readouterr().out
    assert out.startswith("SKIPPED on this platform: AF_UNIX is not available")


# -- resources ------------------------------------------------------------------

needs_fds = pytest.mark.skipif(resources.open_fds() is None, reason="fds cannot be listed here")


@needs_fds
def test_open_fds_sees_a_new_socket():
    before = resources.count_open_fds()
    with socket.socket() as s:
        assert s.fileno() in resources.open_fds()
        assert resources.count_open_fds() == before + 1
    assert resources.count_open_fds() == before


@needs_fds
def test_fd_leak_message_names_count_and_kind():
    pair = []
    with pytest.raises(AssertionError, match=r"left 2 file descriptors open \(2 sockets\)"):
        with resources.assert_no_fd_leak():
            pair.extend(socket.socketpair())
    for s in pair:
        s.close()
    with resources.assert_no_fd_leak():
        pass


@needs_fds
def test_describe_fd_kinds(tmp_path):
    with socket.create_server(("127.0.0.1", 0)) as srv:
        assert "bound to ('127.0.0.1'" in resources.describe_fd(srv.fileno())
        with socket.create_connection(srv.getsockname()) as c:
            assert "->" in resources.describe_fd(c.fileno())
    r, w = os.pipe()
    try:
        assert "pipe" in resources.describe_fd(r)
    finally:
        os.close(r)
        os.close(w)
    with open(tmp_path / "f", "w") as f:
        assert "file" in resources.describe_fd(f.fileno())
    assert "closed" in resources.describe_fd(10_000)


def test_fd_functions_where_unknowable(monkeypatch):
    monkeypatch.setattr(resources, "_fd_dir", lambda: None)
    assert resources.open_fds() is None
    assert resources.count_open_fds() is None
    with resources.assert_no_fd_leak():
        pass


def test_fd_dir_per_platform(monkeypatch):
    monkeypatch.setattr(resources.sys, "platform", "darwin")
    monkeypatch.setattr(resources.os.path, "isdir", lambda p: p == "/dev/fd")
    assert resources._fd_dir() == "/dev/fd"
    monkeypatch.setattr(resources.sys, "platform", "win32")
    assert resources._fd_dir() is None


def test_thread_leak_detected_and_finishing_threads_allowed():
    release = threading.Event()
    with pytest.raises(AssertionError, match="left 1 thread running: 'stuck'"):
        with resources.assert_no_thread_leak(grace=0.05):
            t = threading.Thread(target=release.wait, args=(5,), name="stuck")
            t.start()
    release.set()
    t.join()
    with resources.assert_no_thread_leak():
        threading.Thread(target=lambda: None).start()


def test_hard_close_wakes_a_blocked_reader():
    a, b = socket.socketpair()
    got = []

    def reader():
        try:
            got.append(a.recv(10))
        except OSError as exc:  # closed before recv() started
            got.append(exc)

    t = threading.Thread(target=reader)
    t.start()
    resources.hard_close(a)
    t.join(timing.scaled(2))
    b.close()
    assert not t.is_alive() and a.fileno() == -1
    resources.hard_close(a)  # idempotent
    resources.hard_close(None)


def test_temp_unix_path_is_removed():
    with resources.temp_unix_path() as path:
        assert os.path.isdir(os.path.dirname(path))
    assert not os.path.exists(os.path.dirname(path))


def test_record_unclosed_catches_a_forgotten_socket():
    with resources.record_unclosed() as record:
        socket.socket()
    assert len(record.sockets()) == 1 and "unclosed" in record[0]
    with resources.record_unclosed() as record:
        socket.socket().close()
        warnings.warn("something else", ResourceWarning, stacklevel=1)
    assert record.sockets() == [] and len(record) == 1


# -- transcript -----------------------------------------------------------------

def test_abbreviate_long_payloads():
    assert abbreviate(b"hi") == "b'hi'"
    text = abbreviate(b"a" * (1 << 20), limit=8)
    assert text == "b'aaaa'…(1048576 bytes)…b'aaaa'"


def test_transcript_merges_dribbles_and_concatenates():
    t = Transcript()
    for ch in b"hello":
        t.sent("server", bytes([ch]))
    t.received("client", b"hello")
    t.received("client", b"")
    t.shutdown("client")
    t.reset("server")
    t.timeout("server", "(gave up)")
    t.error("server", ValueError("boom"))
    t.note("peer", "hello")
    t.close("client")
    assert t.sent_by("server") == b"hello"
    assert t.received_by("client") == b"hello"
    assert t.has("client", "eof") and not t.has("server", "eof")
    assert len(t) == 9
    text = t.format()
    assert "b'hello' (5 bytes) in 5 pieces" in text
    assert "SHUT_WR" in text and "ValueError: boom" in text
    assert str(t) == text
    assert "sent" in repr(t.events[0])
    with pytest.raises(ValueError):
        t.record("server", "teleported")


def test_transcript_format_elides_the_middle():
    t = Transcript()
    assert "nothing was sent" in t.format()
    for i in range(50):
        t.note("peer", f"event {i}")
    text = t.format(max_events=10)
    assert "event 0" in text and "event 49" in text and "… 40 more events …" in text
    assert "event 25" not in text


def test_transcript_is_thread_safe():
    t = Transcript()

    def writer(side):
        for _ in range(200):
            t.sent(side, b"x")
            t.note(side, "n")

    threads = [threading.Thread(target=writer, args=(f"s{i}",)) for i in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert sum(len(t.sent_by(f"s{i}")) for i in range(4)) == 800
