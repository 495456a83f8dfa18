"""Reference peers and runners: behaviour, transcripts, and cleanup in every outcome."""

import errno
import os
import socket
import threading
import time

import pytest

from course_lib import endpoint, peers, probes, runners
from course_lib.timing import Deadline, scaled
from course_lib.transcript import Transcript

FAST = scaled(0.5)


def fetch(address, data=b"", family=socket.AF_INET, shutdown=True):
    """A plain blocking client: send, half-close, read to EOF."""
    with socket.socket(family) as c:
        c.settimeout(scaled(2))
        c.connect(address)
        c.sendall(data)
        if shutdown:
            c.shutdown(socket.SHUT_WR)
        out = b""
        while True:
            chunk = c.recv(65536)
            if not chunk:
                return out
            out += chunk


FAMILIES = [
    pytest.param(socket.AF_INET, id="AF_INET"),
    pytest.param(getattr(socket, "AF_INET6", None), id="AF_INET6",
                 marks=pytest.mark.skipif(not probes.ipv6_available(), reason="no IPv6")),
    pytest.param(getattr(socket, "AF_UNIX", None), id="AF_UNIX",
                 marks=pytest.mark.skipif(not probes.unix_available(), reason="no AF_UNIX")),
]


@pytest.mark.parametrize("family", FAMILIES)
def test_echo_server_every_family(family):
    with peers.echo_server(family) as srv:
        assert fetch(srv.address, b"hello" * 1000, family) == b"hello" * 1000
    assert srv.received == b"hello" * 1000 == srv.sent
    assert srv.family == family and not srv.errors
    assert (srv.port is None) == (family == getattr(socket, "AF_UNIX", None))
    assert "eof" in srv.transcript.format()
    assert repr(srv).startswith("<_Echo-")


def test_loopback_address_only_for_ip():
    with pytest.raises(ValueError):
        peers.loopback_address(12345)


def test_line_and_timestamp_servers():
    with peers.line_server() as srv:
        assert fetch(srv.address, b"one\ntwo\npartial") == b"ONE\nTWO\n"
    assert srv.received == b"one\ntwo\npartial"
    with peers.timestamp_server() as srv:
        reply = fetch(srv.address, b"hi")
    assert reply.startswith(b"[") and reply.endswith(b"] hi") and len(reply) == 24 + 3 + 2
    assert peers.timestamp_reply(b"x", 0) == b"[" + time.ctime(0).encode() + b"] x"


def test_dribble_close_midway_and_half_close():
    with peers.dribble_server(b"abc", chunk=1) as srv:
        assert fetch(srv.address, shutdown=False) == b"abc"
    assert srv.transcript.events[0].pieces == 3
    with peers.close_midway_server(b"abcdef", cut=2) as srv:
        assert fetch(srv.address, shutdown=False) == b"ab"
    with peers.half_close_server() as srv:
        assert fetch(srv.address, b"12345") == b"received 5 bytes"
    with peers.half_close_server(reply=bytes.upper) as srv:
        assert fetch(srv.address, b"abc") == b"ABC"


def test_reset_server_resets():
    with peers.reset_server() as srv:
        with pytest.raises(OSError) as info:
            fetch(srv.address, b"hello", shutdown=False)
    assert info.value.errno in probes.RESET_ERRNOS
    assert srv.transcript.has("server", "reset")


def test_silent_server_times_out_and_records_it():
    with peers.silent_server(timeout=0.05) as srv:
        with socket.create_connection(srv.address) as c:
            assert srv.wait_finished(1, scaled(2))
            c.settimeout(scaled(2))
            assert c.recv(1) == b""
    assert any(isinstance(e, peers.WaitTimeout) for e in srv.errors)
    assert srv.transcript.has("server", "timeout")


def test_silent_server_stops_promptly_with_a_client_connected():
    start = time.monotonic()
    with peers.silent_server() as srv:
        c = socket.create_connection(srv.address)
        assert srv.wait_finished(1, 0.01) is False
    c.close()
    assert time.monotonic() - start < scaled(1)


def test_udp_echo_server_drops_then_echoes():
    with peers.udp_echo_server(drop_first=1) as srv:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as c:
            c.settimeout(0.05)
            c.sendto(b"one", srv.address)
            with pytest.raises(socket.timeout):
                c.recvfrom(100)
            c.settimeout(scaled(2))
            c.sendto(b"two", srv.address)
            assert c.recvfrom(100) == (b"two", srv.address)
    assert srv.datagrams == 2 and "dropped datagram 1" in srv.transcript.format()


def test_late_server_refuses_then_accepts():
    with peers.late_server(scaled(0.05)) as srv:
        with socket.socket() as c:
            assert c.connect_ex(srv.address) in probes.REFUSED_ERRNOS
        assert srv.listening.wait(scaled(2))
        assert fetch(srv.address, b"late") == b"late"


def test_late_server_stopped_before_listening():
    with peers.late_server(60) as srv:
        pass
    assert not srv.listening.is_set()


@pytest.mark.parametrize("family", FAMILIES)
def test_refused_address_refuses(family):
    with peers.refused_address(family) as address:
        with socket.socket(family) as c:
            assert c.connect_ex(address) in probes.REFUSED_ERRNOS | {errno.ENOENT}


def test_peer_stop_is_idempotent_and_errors_recorded():
    class Broken(peers.Peer):
        def handle(self, ep):
            raise ValueError("peer bug")

    with Broken() as srv:
        with socket.create_connection(srv.address) as c:
            c.settimeout(scaled(2))
            assert c.recv(1) == b""
    srv.stop()
    assert isinstance(srv.errors[0], ValueError)
    assert "ValueError: peer bug" in srv.transcript.format()


def test_endpoint_helpers_over_socketpair():
    a, b = socket.socketpair()
    t = Transcript()
    with peers.Endpoint(a, t, "a", timeout=scaled(2)) as ea, peers.Endpoint(b, t, "b") as eb:
        ea.sendall(b"line1\nline2\nrest", chunk=4, pause=0.0)
        ea.shutdown_wr()
        assert eb.recv_line() == b"line1\n"
        assert eb.recv(3) == b"lin"
        assert eb.recv_exactly(3) == b"e2\n"
        assert eb.recv_line() == b"rest"
        assert eb.recv() == b""
        with pytest.raises(EOFError):
            eb.recv_exactly(1)
        assert eb.recv_line() == b""
        eb.sendall(b"xy")
        assert ea.exchange(b"", 2, shutdown=False) == b"xy"
        eb.reset()
        eb.reset()
    assert t.sent_by("a") == b"line1\nline2\nrest"


def test_endpoint_wait_times_out_and_honours_deadline():
    a, b = socket.socketpair()
    t = Transcript()
    with peers.Endpoint(a, t, "a", timeout=10, deadline=Deadline(0.02)) as ea, b:
        with pytest.raises(peers.WaitTimeout) as info:
            ea.recv()
        assert info.value.at <= time.monotonic()
        assert t.has("a", "timeout")


def test_endpoint_stop_when_ends_waits_but_drains_what_is_there():
    a, b = socket.socketpair()
    waker = endpoint.Waker()
    with endpoint.Endpoint(a, Transcript(), "a", timeout=10) as ea, b:
        ea.stop_when(waker)
        b.sendall(b"last words")
        waker.set()
        assert ea.recv() == b"last words"  # drained although stopped
        with pytest.raises(endpoint.PeerStopped):
            ea.recv()
        ea.stop_when(None)
        b.sendall(b"!")
        assert ea.recv() == b"!"
    waker.close()


def test_bind_loopback_binds_port_0_and_releases_the_unix_dir():
    with socket.socket() as s:
        bound = endpoint.bind_loopback(s)
        assert bound.address[0] == "127.0.0.1" and bound.address[1] != 0
        bound.release()
    if probes.unix_available():
        with socket.socket(socket.AF_UNIX) as u:
            bound = endpoint.bind_loopback(u)
            assert os.path.exists(bound.address)
            bound.release()
            bound.release()  # idempotent
            assert not os.path.exists(os.path.dirname(bound.address))


def test_peer_threads_are_the_harness_s():
    with peers.echo_server() as srv:
        threads = list(srv._threads)
        assert threads and all(t in endpoint.harness_threads for t in threads)
    assert threading.current_thread() not in endpoint.harness_threads


def test_endpoint_pause_without_waker():
    a, b = socket.socketpair()
    with peers.Endpoint(a, Transcript(), "a") as ea, b:
        start = time.monotonic()
        ea.pause(0.01)  # sleep-ok: the pause under test
        assert time.monotonic() - start >= 0.005


def test_endpoint_records_resets():
    t = Transcript()
    with peers.reset_server(read=0) as srv:
        try:
            ep = peers.connect(srv.address, t)
        except ConnectionResetError:  # on a busy machine the RST can beat connect()
            assert t.has("client", "error")
            return
        with ep:
            assert srv.wait_finished(1, scaled(2))
            with pytest.raises(OSError):
                ep.sendall(b"x" * (1 << 20))
                ep.recv()
    assert t.has("client", "reset")


def test_connect_failure_closes_and_records():
    t = Transcript()
    with peers.refused_address() as address:
        with pytest.raises(ConnectionRefusedError):
            peers.connect(address, t, rcvbuf=4096, deadline=Deadline(1))
    assert t.has("client", "error")


def test_udp_client_endpoint():
    t = Transcript()
    with peers.udp_echo_server() as srv, peers.udp_client(t, deadline=Deadline(scaled(2))) as ep:
        ep.sendto(b"ping", srv.address)
        assert ep.recvfrom() == (b"ping", srv.address)


# -- runners --------------------------------------------------------------------

def spin():
    while True:
        pass


def test_run_with_deadline_returns_and_reraises():
    assert runners.run_with_deadline(lambda x, y=1: x + y, 1, y=2) == 3

    def boom():
        raise KeyError("learner bug")

    with pytest.raises(KeyError, match="learner bug") as info:
        runners.run_with_deadline(boom)
    assert any(entry.name == "boom" for entry in info.traceback)


def test_run_with_deadline_abandons_a_busy_loop():
    start = time.monotonic()
    with pytest.raises(runners.LearnerTimeout) as info:
        runners.run_with_deadline(spin, deadline=0.1, what="spin()", expected="to return",
                                  hint="don't spin", transcript=Transcript())
    assert time.monotonic() - start < scaled(1.5)
    message = str(info.value)
    assert "spin() did not finish within 0.1 s" in message
    assert "Expected: to return" in message and "Hint: don't spin" in message
    assert "nothing was sent or received" in message
    assert isinstance(info.value, AssertionError)


def test_run_with_deadline_closes_sockets_it_was_given():
    a, b = socket.socketpair()
    with b:
        with pytest.raises(runners.LearnerTimeout):
            runners.run_with_deadline(lambda s: s.recv(1), a, deadline=0.05)
    assert a.fileno() == -1


def test_uninterruptible_call_is_reported(monkeypatch):
    release = threading.Event()
    monkeypatch.setattr(runners, "_set_async_exc", None)
    with pytest.raises(runners.LearnerTimeout, match="could not be interrupted"):
        runners.run_with_deadline(release.wait, 5, deadline=0.05)
    release.set()


def test_abandon_after_done():
    call = runners.LearnerCall(lambda: 1).start()
    assert call.wait(scaled(2))
    assert call.abandon() is True


def test_run_client_stops_the_peer_on_timeout():
    def client(port):
        with socket.create_connection(("127.0.0.1", port)) as c:
            c.recv(1)
            while True:  # ignores EOF and spins
                pass

    with peers.silent_server() as srv:
        with pytest.raises(runners.LearnerTimeout, match="your client did not finish"):
            runners.run_client(client, srv.port, peer=srv, deadline=0.1)
    assert srv._stopped


def test_harness_socket_short_sends_and_recvs():
    a, b = socket.socketpair()
    sa = runners.shape(a)
    with sa, b:
        assert sa.send(b"abcd") == 2
        assert sa.send(b"x") == 1
        with pytest.raises(TypeError):
            sa.send("text")
        b.sendall(b"12345678")
        assert sa.recv(4) == b"12"
        buf = bytearray(4)
        assert sa.recv_into(buf) == 2
        assert sa.recv_into(memoryview(buf)[:1]) == 1
        assert sa.short_sends_made == 1


def test_harness_socket_recv_cap_bounds_every_read():
    a, b = socket.socketpair()
    sa = runners.shape(a, short_sends=False, short_recvs=False, recv_cap=3)
    with sa, b:
        b.sendall(b"123456789")
        assert sa.recv(100) == b"123"
        buf = bytearray(10)
        assert sa.recv_into(buf) == 3 and buf[:3] == b"456"
        assert sa.recv(2) == b"78"  # a smaller request is not raised to the cap
        assert sa.bytes_received == 8


def test_harness_listener_unix_and_accept():
    if not probes.unix_available():
        pytest.skip("no AF_UNIX")
    listener = runners.harness_listener(socket.AF_UNIX)
    path = listener.getsockname()
    with socket.socket(socket.AF_UNIX) as c:
        c.connect(path)
        conn, _ = listener.accept()
        conn.close()
    runners._close_listener(listener)
    assert listener.accepted == [conn]
    assert listener.bound is not None and listener.bound._unix_dir is None


def test_harness_listener_bind_failure_cleans_up(monkeypatch):
    def refuse(family):
        raise ValueError("no loopback for you")

    monkeypatch.setattr(endpoint, "loopback_address", refuse)
    with pytest.raises(ValueError, match="no loopback"):
        runners.harness_listener()


def echo_once(listener):
    conn, _ = listener.accept()
    with conn:
        while data := conn.recv(65536):
            conn.sendall(data)


def echo_script(address, transcript, deadline):
    with peers.connect(address, transcript, deadline=deadline) as ep:
        return ep.exchange(b"ping", 4, shutdown=True)


@pytest.mark.parametrize("family", FAMILIES)
def test_run_server_success(family):
    run = runners.run_server(echo_once, echo_script, family=family)
    assert run.client_result == b"ping" and run.accepted == 1 and run.unclosed == 0
    assert run.transcript.sent_by("client") == b"ping"


def test_run_server_reports_learner_exception_over_client_failure():
    def crash(listener):
        conn, _ = listener.accept()
        conn.recv(10)
        raise RuntimeError("learner crashed")

    def script(address, transcript, deadline):
        with peers.connect(address, transcript, deadline=deadline) as ep:
            ep.sendall(b"x")
            return ep.recv_exactly(1)

    with pytest.raises(RuntimeError, match="learner crashed"):
        runners.run_server(crash, script, deadline=FAST)


def test_run_server_timeout_when_server_never_returns():
    def never(listener):
        conn, _ = listener.accept()
        with conn:
            while True:
                conn.recv(10)

    def script(address, transcript, deadline):
        with peers.connect(address, transcript, deadline=deadline) as ep:
            ep.sendall(b"no reply expected")

    with pytest.raises(runners.LearnerTimeout, match="your server did not finish"):
        runners.run_server(never, script, deadline=0.2)


def test_run_server_client_failure_propagates():
    def script(address, transcript, deadline):
        raise ValueError("script bug")

    with pytest.raises(ValueError, match="script bug"):
        runners.run_server(echo_once, script, deadline=FAST)


def test_abandon_interrupts_stay_off_stderr(monkeypatch):
    """An interrupt surfacing late (unraisable, or in the learner thread's hook) is not printed."""
    import sys
    import types

    from course_lib import runners

    seen = []
    monkeypatch.setattr(sys, "unraisablehook", seen.append)
    runners._install_unraisable_filter()
    runners._install_unraisable_filter()  # idempotent: wrapped once
    sys.unraisablehook(types.SimpleNamespace(exc_type=runners._Abandoned))
    other = types.SimpleNamespace(exc_type=ValueError)
    sys.unraisablehook(other)
    assert seen == [other]

    called = []
    hook = runners._ignore_abandoned(called.append)
    for exc in (runners._Abandoned(), ValueError("learner's own")):
        try:
            raise exc
        except BaseException:
            hook("thread")
    assert called == ["thread"]
