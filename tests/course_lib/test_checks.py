"""Every check against a correct answer and realistic wrong ones.

Each wrong answer must fail with a message that names its mistake, and the
visible (edge_cases=False) subset must let through the mistakes only the
hidden edge cases are meant to catch.
"""

import pytest

import harness_answers as A
from course_lib import checks, probes
from course_lib.timing import scaled

FAST = scaled(0.5)

@pytest.mark.parametrize("edge_cases", [False, True], ids=["visible", "hidden"])
@pytest.mark.parametrize("check, answer", A.CORRECT, ids=[c.__name__ for c, _ in A.CORRECT])
def test_correct_answers_pass(check, answer, edge_cases):
    assert check(*answer, edge_cases=edge_cases) is None


def test_dualstack_correct_or_skipped(capsys):
    ran = checks.check_dualstack_server(A.make_dualstack_server)
    assert ran == probes.dualstack_available()
    if not ran:
        assert "SKIPPED on this platform" in capsys.readouterr().out


# (check, wrong answer(s), message fragment, fails the visible subset too?)
WRONG = [
    (checks.check_start_server, A.start_server_fixed_port, "EADDRINUSE", False),
    (checks.check_start_server, A.start_server_no_listen, "call listen()", True),
    (checks.check_start_server, A.start_server_returns_zero, "getsockname()[1]", True),
    (checks.check_start_server, A.start_server_all_interfaces, "'0.0.0.0'", True),
    (checks.check_start_server, A.start_server_only_socket, "only the socket", True),
    (checks.check_start_server, A.never_returns, "did not finish", True),
    (checks.check_echo_server, A.serve_once_one_recv, "recv() only once", True),
    (checks.check_echo_server, A.serve_once_send, "sendall()", False),
    (checks.check_echo_server, A.serve_once_no_close, "without closing", True),
    (checks.check_echo_server, A.serve_once_never_returns, "server to close", True),
    (checks.check_echo_server, A.serve_once_str, "send() needs bytes, not str", True),
    (checks.check_timestamp_server, A.serve_timestamp_str, "send() needs bytes, not str", True),
    (checks.check_timestamp_server, A.serve_timestamp_repr, "formatted a bytes object", True),
    (checks.check_timestamp_server, A.serve_timestamp_send, "sendall()", False),
    (checks.check_timestamp_server, A.serve_timestamp_bufsize_1024,
     "replied to only the first 1024 of the 4096 bytes", False),
    (checks.check_sequential_server, A.serve_clients_only_one, "had already returned", True),
    (checks.check_sequential_server, A.serve_clients_one_recv,
     "of the 262144 bytes client 2 sent, then closed", False),
    (checks.check_concurrent_server, A.serve_clients, "one client at a time", True),
    (checks.check_concurrent_server, A.serve_concurrently_one_recv,
     "echoed 4096 of the 65537 bytes client 2 sent", False),
    (checks.check_concurrent_server, A.serve_concurrently_no_join,
     "returned before the 10 thread(s) it started had finished", True),
    (checks.check_udp_echo_server, A.serve_udp_stops_on_empty, "empty datagram", False),
    (checks.check_udp_echo_server, A.serve_udp_small_buffer, "wrong echo of datagram 7", False),
    (checks.check_udp_echo_server, A.serve_udp_first_sender, "address that recvfrom", True),
    (checks.check_udp_echo_server, A.serve_udp_str, "send() needs bytes, not str", True),
    (checks.check_reuseaddr_listener, A.make_listener_no_reuse, "SO_REUSEADDR", True),
    (checks.check_reuseaddr_listener, A.make_listener_after_bind, "TIME_WAIT", False),
    (checks.check_fetch_all, A.fetch_all_one_recv, "stopped reading too early", False),
    (checks.check_fetch_all, A.fetch_all_str, "returned a str", True),
    (checks.check_fetch_all, A.fetch_all_no_close, "garbage collector", True),
    (checks.check_request, A.request_no_shutdown, "shutdown(socket.SHUT_WR)", True),
    (checks.check_request, A.request_one_recv, "wrong reply", True),
    (checks.check_request, A.request_one_big_recv, "stopped reading too early", False),
    (checks.check_probe, A.probe_connect, "use connect_ex()", True),
    (checks.check_probe, A.probe_returns_int, "returned 0", True),
    (checks.check_probe, A.probe_no_close, "garbage collector", True),
    (checks.check_probe, A.probe_waits_for_data, "did not finish", True),
    (checks.check_fetch_with_timeout, A.fetch_with_timeout_none, "settimeout", True),
    (checks.check_fetch_with_timeout, A.fetch_with_timeout_swallows, "instead of raising", True),
    (checks.check_fetch_with_timeout, A.fetch_with_timeout_leaks, "garbage collector", True),
    (checks.check_fetch_with_timeout, A.fetch_with_timeout_one_recv, "wrong bytes", False),
    (checks.check_line_client, A.exchange_lines_no_flush, "flush()", True),
    (checks.check_line_client, A.exchange_lines_no_newline, "no b'\\n'", True),
    (checks.check_line_client, A.exchange_lines_bytes, "return str", True),
    (checks.check_line_client, A.exchange_lines_latin1, "wrong lines", False),
    (checks.check_recv_exactly, A.recv_exactly_into_once, "loop until the buffer is full", False),
    (checks.check_recv_exactly, A.recv_exactly_into_overwrites, "view[got:]", False),
    (checks.check_recv_exactly, A.recv_exactly_into_ignores_eof, "EOFError", False),
    (checks.check_udp_client, A.udp_request_no_retry, "gave up after 1 attempt", False),
    (checks.check_udp_client, A.udp_request_forever, "still retrying", False),
    (checks.check_udp_client, A.udp_request_returns_empty, "never answered", False),
    (checks.check_sendfile, A.send_file_text_mode, "'rb'", True),
    (checks.check_sendfile, A.send_file_one_chunk, "received different bytes", False),
    (checks.check_sendfile, A.send_file_returns_none, "number of bytes sent", True),
    (checks.check_send_msg, A.send_msg_send, "sendall()", False),
    (checks.check_send_msg, A.send_msg_little_endian, "network (big-endian)", True),
    (checks.check_recv_msg, A.recv_msg_one_recv, "recv_msg(sock)", False),
    (checks.check_recv_msg, A.recv_msg_none_midway, "EOFError or ConnectionError", False),
]


@pytest.mark.parametrize("check, answer, fragment, visible",
                         WRONG, ids=[f"{c.__name__}-{a.__name__}" for c, a, _, _ in WRONG])
def test_wrong_answers_fail_with_a_message_naming_the_mistake(check, answer, fragment, visible):
    with pytest.raises(AssertionError) as info:
        check(answer, deadline=FAST)
    assert fragment in str(info.value)
    if visible:
        with pytest.raises(AssertionError):
            check(answer, edge_cases=False, deadline=FAST)
    else:
        check(answer, edge_cases=False, deadline=FAST)


WRONG_FRAMING = [
    (A.send_msg_send, A.recv_msg, "sendall()"),
    (A.send_msg_little_endian, A.recv_msg, "network (big-endian)"),
    (A.send_msg, A.recv_msg_one_recv, "recv_msg(sock)"),
    (A.send_msg, A.recv_msg_overreads, "more than one frame"),
    (A.send_msg, A.recv_msg_none_midway, "EOFError or ConnectionError"),
    (A.send_msg, A.never_returns, "did not return"),
]


@pytest.mark.parametrize("send_msg, recv_msg, fragment", WRONG_FRAMING,
                         ids=[f"{s.__name__}-{r.__name__}" for s, r, _ in WRONG_FRAMING])
def test_framing_wrong_answers(send_msg, recv_msg, fragment):
    with pytest.raises(AssertionError) as info:
        checks.check_framing(send_msg, recv_msg, deadline=FAST)
    assert fragment in str(info.value)


def test_blank_stub_fails_fast_with_not_implemented():
    def stub(*args):
        raise NotImplementedError()

    for check, answer in A.CORRECT:
        with pytest.raises(NotImplementedError):
            check(*([stub] * len(answer)), edge_cases=False, deadline=FAST)


@pytest.mark.skipif(not probes.dualstack_available(), reason="no dual-stack sockets")
@pytest.mark.parametrize("answer, fragment", [(A.make_v6only_server, "IPV6_V6ONLY"),
                                              (A.make_v4_server, "AF_INET6"),
                                              (A.start_server_only_socket, "AF_INET6")])
def test_dualstack_wrong_answers(answer, fragment):
    with pytest.raises(AssertionError, match=fragment):
        checks.check_dualstack_server(answer, deadline=FAST)


@pytest.mark.parametrize("answer", [A.make_dualstack_server_unsupported, A.make_dualstack_server],
                         ids=["create_server raises", "returns an AF_INET6 socket"])
def test_dualstack_skips_where_unavailable(answer, monkeypatch, capsys):
    monkeypatch.setattr(checks.listeners, "dualstack_available", lambda: False)
    assert checks.check_dualstack_server(answer) is False
    assert "SKIPPED on this platform: dual-stack" in capsys.readouterr().out


def test_dualstack_unavailable_still_fails_the_blank_stub(monkeypatch):
    """Where dual-stack is unavailable the learner's function is still called."""
    def stub():
        raise NotImplementedError()

    monkeypatch.setattr(checks.listeners, "dualstack_available", lambda: False)
    with pytest.raises(NotImplementedError):
        checks.check_dualstack_server(stub)
    with pytest.raises(AssertionError, match="should return the listening socket"):
        checks.check_dualstack_server(A.make_dualstack_server_returns_none)
    with pytest.raises(AssertionError, match="AF_INET6"):
        checks.check_dualstack_server(A.make_v4_server)
    with pytest.raises(AssertionError, match="did not finish"):
        checks.check_dualstack_server(A.never_returns, deadline=FAST)


def test_abandoned_learner_threads_stay_off_stderr(capfd):
    """A learner's worker threads that die after the check (sockets closed under them) are quiet.

    nbgrader scores a cell that writes to stderr 0, and an abandoned thread
    may die during a later cell.
    """
    import threading

    before = set(threading.enumerate())
    with pytest.raises(AssertionError, match="join each one"):
        checks.check_concurrent_server(A.serve_concurrently_no_join, edge_cases=False)
    for t in set(threading.enumerate()) - before:
        t.join(scaled(2.0))
    with pytest.raises(AssertionError, match="one client at a time"):
        checks.check_concurrent_server(A.serve_clients, deadline=FAST)
    assert capfd.readouterr().err == ""
