"""Every shared check against the notebooks' answers: the reference, and the catalogue's mistakes.

The answers are the catalogue's (tests/answers.py): the reference solution cells of the notebooks whose
tests call course_lib.checks (sections 03 and 04), and the wrong answers in tests/wrong_answers/ for
them. Each check is called as the notebook's visible test cell calls it (read from the notebook). Each
wrong answer must fail with a message that names its mistake, and the visible (edge_cases=False)
subset must let through the mistakes only the hidden edge cases are meant to catch.
"""

import socket

import pytest

import answers as A
from course_lib import checks, probes
from course_lib.timing import scaled

FAST = scaled(0.5)
# the shared checks of the server and client sections (they take a deadline and return nothing); the
# checks of 01, 02, 05, 06 and 07 are tested in tests/exercises/ and, like these, by the honesty harness
SECTIONS = ["03_server", "04_client"]
CALLS = {c.id: c for a in SECTIONS for c in A.check_calls(a)}


def run(call, answer, **options):
    """Call the check as the notebook does (plus `options`: edge_cases, deadline)."""
    return getattr(checks, call.check)(answer, *call.args, **dict(call.kwargs), **options)


@pytest.mark.parametrize("edge_cases", [False, True], ids=["visible", "hidden"])
@pytest.mark.parametrize("exercise", sorted(CALLS))
def test_reference_answers_pass(exercise, edge_cases):
    call = CALLS[exercise]
    assert run(call, A.reference(call.assignment, call.grade_id), edge_cases=edge_cases) is None


def test_framing_reference_pair_passes():
    assert checks.check_framing(A.reference("04_client", "ex5_send_msg"),
                                A.reference("04_client", "ex6_recv_msg")) is None


# A check with no exercise of its own (no catalogue entry): its answers live here.
def make_dualstack_server():
    return socket.create_server(("", 0), family=socket.AF_INET6, dualstack_ipv6=True)


def make_v6only_server():
    return socket.create_server(("", 0), family=socket.AF_INET6)


def make_v4_server():
    return socket.create_server(("127.0.0.1", 0))


def never_returns(*args):
    """Not a learner's mistake but a probe of the harness: a call that never returns meets its deadline."""
    while True:
        pass


def test_dualstack_correct_or_skipped(capsys):
    ran = checks.check_dualstack_server(make_dualstack_server)
    assert ran == probes.dualstack_available()
    if not ran:
        assert "SKIPPED on this platform" in capsys.readouterr().out


# catalogue entry -> (does the visible test catch it?, what the failure message must say (or one of these))
MISTAKES = {
    "03_server/ex1_start_server__binds_all_interfaces": (True, "'0.0.0.0'"),
    "03_server/ex1_start_server__fixed_port": (False, "EADDRINUSE"),
    "03_server/ex1_start_server__forgets_listen": (True, "call listen()"),
    "03_server/ex1_start_server__leaks_on_error": (False, "garbage collector"),
    "03_server/ex1_start_server__returns_only_socket": (True, "only the socket"),
    "03_server/ex1_start_server__returns_requested_port": (True, "getsockname()[1]"),
    "03_server/ex2_serve_once__leaves_connection_open": (True, "without closing"),
    "03_server/ex2_serve_once__never_checks_eof": (True, "server to close"),
    "03_server/ex2_serve_once__sends_str": (True, "send() needs bytes, not str"),
    "03_server/ex2_serve_once__single_recv": (True, "recv() only once"),
    # how much one send() takes depends on the socket buffers at that moment
    "03_server/ex2_serve_once__uses_send": (False, ("of the 1048576 bytes", "sendall()")),
    "03_server/ex3_serve_timestamp__formats_bytes_into_str": (True, "formatted a bytes"),
    "03_server/ex3_serve_timestamp__seed_bufsize_1024": (False, "replied to only the first 1024 of the 4096 bytes"),
    "03_server/ex3_serve_timestamp__sends_str": (True, "send() needs bytes, not str"),
    "03_server/ex3_serve_timestamp__uses_send": (False, "sendall()"),
    "03_server/ex4_serve_clients__serves_only_one": (True, "had already returned"),
    "03_server/ex4_serve_clients__single_recv_per_client": (False, "of the 262144 bytes client 2 sent, then closed"),
    "03_server/ex4_serve_clients__uses_send": (False, "client 2 got a wrong echo"),
    "03_server/ex5_serve_concurrently__forgets_join": (True, "thread(s) it started had finished"),
    "03_server/ex5_serve_concurrently__one_at_a_time": (True, "one client at a time"),
    "03_server/ex5_serve_concurrently__single_recv_per_thread": (False, "echoed 4096 of the 65537 bytes client 2 sent"),
    "03_server/ex5_serve_concurrently__uses_send": (False, "clients got their echo"),
    "03_server/ex6_make_listener__leaks_on_error": (False, "garbage collector"),
    "03_server/ex6_make_listener__no_reuseaddr": (True, "SO_REUSEADDR"),
    "03_server/ex6_make_listener__sets_option_after_bind": (False, "TIME_WAIT"),
    "03_server/ex7_serve_udp__replies_to_first_sender": (True, "address that recvfrom"),
    "03_server/ex7_serve_udp__sends_str": (True, "send() needs bytes, not str"),
    "03_server/ex7_serve_udp__small_buffer": (False, "wrong echo of datagram 7"),
    "03_server/ex7_serve_udp__stops_on_empty_datagram": (False, "empty datagram"),
    "04_client/ex1_probe__any_error_is_false": (False, "EHOSTUNREACH"),
    "04_client/ex1_probe__expects_an_answer": (False, "on a listening server returned False"),
    "04_client/ex1_probe__linux_refused_number": (False, "WSAECONNREFUSED"),
    "04_client/ex1_probe__never_closes": (True, "garbage collector"),
    "04_client/ex1_probe__no_timeout": (False, "set a timeout"),
    "04_client/ex1_probe__waits_too_long": (False, "set a timeout of 5 s"),
    "04_client/ex1_probe__returns_error_code": (True, "returned 0"),
    "04_client/ex1_probe__uses_connect": (True, "use connect_ex()"),
    "04_client/ex2_fetch_all__never_closes": (True, "garbage collector"),
    "04_client/ex2_fetch_all__no_timeout": (False, "without a timeout"),
    "04_client/ex2_fetch_all__returns_str": (True, "returned a str"),
    "04_client/ex2_fetch_all__single_recv": (False, "stopped reading too early"),
    "04_client/ex3_fetch_with_timeout__leaks_on_timeout": (True, "garbage collector"),
    "04_client/ex3_fetch_with_timeout__no_timeout": (True, "settimeout"),
    "04_client/ex3_fetch_with_timeout__single_recv": (False, "wrong bytes"),
    "04_client/ex3_fetch_with_timeout__swallows_timeout": (True, "instead of raising"),
    "04_client/ex4_request__fixed_size_reply": (True, "only the first 4 of its 32 bytes"),
    "04_client/ex4_request__no_shutdown": (True, "shutdown(socket.SHUT_WR)"),
    "04_client/ex4_request__no_timeout": (False, "without a timeout"),
    # the reply is lost, or the request is, or the reply meets a socket closed for reading and is reset:
    # which one the check sees first depends on timing (the reset, about one run in forty)
    "04_client/ex4_request__shuts_down_both_ways": (True, ("wrong reply", "different bytes than the request",
                                                           "ConnectionResetError")),
    "04_client/ex4_request__single_recv_for_reply": (False, "stopped reading too early"),
    "04_client/ex4_request__uses_send": (False, "sendall()"),
    "04_client/ex5_send_msg__little_endian_header": (True, "network (big-endian)"),
    "04_client/ex5_send_msg__uses_send": (False, "sendall()"),
    "04_client/ex6_recv_msg__header_off_by_one": (False, "unpack requires a buffer of 4 bytes"),
    "04_client/ex6_recv_msg__makefile_reads_ahead": (True, "call 2"),
    "04_client/ex6_recv_msg__none_on_any_eof": (False, "EOFError or ConnectionError"),
    "04_client/ex6_recv_msg__reads_everything": (True, "more than one frame"),
    "04_client/ex6_recv_msg__single_recv_per_part": (False, "recv_msg(sock)"),
    "04_client/ex7_exchange_lines__ascii_encoding": (False, "UnicodeEncodeError"),
    "04_client/ex7_exchange_lines__forgets_newline": (True, "no b'\\n'"),
    "04_client/ex7_exchange_lines__latin1_encoding": (False, "wrong lines"),
    "04_client/ex7_exchange_lines__no_flush": (True, "flush()"),
    "04_client/ex7_exchange_lines__no_timeout": (False, "without a timeout"),
    "04_client/ex7_exchange_lines__one_recv_per_line": (False, "wrong lines"),
    "04_client/ex7_exchange_lines__returns_bytes": (True, "return str"),
    "04_client/ex7_exchange_lines__strips_whitespace": (False, "wrong lines"),
    "04_client/ex8_recv_exactly_into__ignores_eof": (False, "EOFError"),
    "04_client/ex8_recv_exactly_into__reads_too_much": (True, "read past the end of the buffer"),
    "04_client/ex8_recv_exactly_into__restarts_at_start": (False, "loop until the buffer is full"),
    "04_client/ex8_recv_exactly_into__returns_new_bytes": (True, "did not fill the 16-byte buffer"),
    "04_client/ex8_recv_exactly_into__single_recv_into": (False, "loop until the buffer is full"),
    "04_client/ex9_udp_request__no_retry": (False, "gave up after 1 attempt"),
    "04_client/ex9_udp_request__one_attempt_short": (False, "gave up after 3 attempt(s)"),
    "04_client/ex9_udp_request__retries_any_oserror": (False, "only a timeout is retried"),
    "04_client/ex9_udp_request__retries_forever": (False, "still retrying"),
    "04_client/ex9_udp_request__returns_empty_on_timeout": (False, "never answered"),
    "04_client/ex9_udp_request__returns_recvfrom_tuple": (True, "should return bytes"),
    "04_client/ex10_send_file__no_timeout": (False, "without a timeout"),
    "04_client/ex10_send_file__reads_one_chunk": (False, "received different bytes"),
    "04_client/ex10_send_file__returns_nothing": (True, "number of bytes sent"),
    "04_client/ex10_send_file__text_mode": (True, "'rb'"),
}
WRONG = {f"{w.assignment}/{w.key}": w for a in SECTIONS for w in A.wrong_answers(a)}


def test_every_wrong_answer_is_described_here():
    """A new wrong answer for a shared check says here what its failure must name."""
    assert sorted(WRONG) == sorted(MISTAKES)


@pytest.mark.parametrize("key", sorted(MISTAKES))
def test_wrong_answers_fail_with_a_message_naming_the_mistake(key):
    wrong = WRONG[key]
    call = CALLS[f"{wrong.assignment}/{wrong.grade_id}"]
    answer = A.load(wrong)
    visible, fragment = MISTAKES[key]
    with A.its_leaks_are_its_own():
        with pytest.raises(AssertionError) as info:
            run(call, answer, deadline=FAST)
        assert any(part in str(info.value) for part in ((fragment,) if isinstance(fragment, str) else fragment))
        if visible:
            with pytest.raises(AssertionError):
                run(call, answer, edge_cases=False, deadline=FAST)
        else:
            run(call, answer, edge_cases=False, deadline=FAST)


# check_framing pairs the two framing exercises: a wrong half beside the reference other half
WRONG_FRAMING = [
    ("ex5_send_msg__uses_send", "sendall()"),
    ("ex5_send_msg__little_endian_header", "network (big-endian)"),
    ("ex6_recv_msg__single_recv_per_part", "recv_msg(sock)"),
    ("ex6_recv_msg__reads_everything", "more than one frame"),
    ("ex6_recv_msg__none_on_any_eof", "EOFError or ConnectionError"),
]


@pytest.mark.parametrize("key, fragment", WRONG_FRAMING, ids=[k for k, _ in WRONG_FRAMING])
def test_framing_wrong_answers(key, fragment):
    wrong = WRONG[f"04_client/{key}"]
    pair = {"ex5_send_msg": A.reference("04_client", "ex5_send_msg"),
            "ex6_recv_msg": A.reference("04_client", "ex6_recv_msg")}
    pair[wrong.grade_id] = A.load(wrong)
    with A.its_leaks_are_its_own(), pytest.raises(AssertionError) as info:
        checks.check_framing(pair["ex5_send_msg"], pair["ex6_recv_msg"], deadline=FAST)
    assert fragment in str(info.value)


@pytest.mark.parametrize("exercise", ["03_server/ex1_start_server", "04_client/ex6_recv_msg"])
def test_a_call_that_never_returns_meets_its_deadline(exercise):
    with pytest.raises(AssertionError, match="did not (finish|return)"):
        run(CALLS[exercise], never_returns, deadline=FAST)


def test_framing_call_that_never_returns_meets_its_deadline():
    with pytest.raises(AssertionError, match="did not return"):
        checks.check_framing(A.reference("04_client", "ex5_send_msg"), never_returns, deadline=FAST)


def test_blank_stub_fails_fast_with_not_implemented():
    def stub(*args):
        raise NotImplementedError()

    for call in CALLS.values():
        with pytest.raises(NotImplementedError):
            run(call, stub, edge_cases=False, deadline=FAST)
    with pytest.raises(NotImplementedError):
        checks.check_framing(stub, stub, edge_cases=False, deadline=FAST)


@pytest.mark.skipif(not probes.dualstack_available(), reason="no dual-stack sockets")
@pytest.mark.parametrize("answer, fragment", [
    (make_v6only_server, "IPV6_V6ONLY"),
    (make_v4_server, "AF_INET6"),
    (A.load(WRONG["03_server/ex1_start_server__returns_only_socket"]), "AF_INET6"),
])
def test_dualstack_wrong_answers(answer, fragment):
    with pytest.raises(AssertionError, match=fragment):
        checks.check_dualstack_server(answer, deadline=FAST)


def make_dualstack_server_unsupported():
    raise ValueError("dualstack_ipv6 not supported on this platform")


@pytest.mark.parametrize("answer", [make_dualstack_server_unsupported, make_dualstack_server],
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
        checks.check_dualstack_server(lambda: None)
    with pytest.raises(AssertionError, match="AF_INET6"):
        checks.check_dualstack_server(make_v4_server)
    with pytest.raises(AssertionError, match="did not finish"):
        checks.check_dualstack_server(never_returns, deadline=FAST)


def test_abandoned_learner_threads_stay_off_stderr(capfd):
    """A learner's worker threads that die after the check (sockets closed under them) are quiet.

    nbgrader scores a cell that writes to stderr 0, and an abandoned thread
    may die during a later cell.
    """
    import threading

    before = set(threading.enumerate())
    with pytest.raises(AssertionError, match="join each one"):
        checks.check_concurrent_server(A.load(WRONG["03_server/ex5_serve_concurrently__forgets_join"]),
                                       edge_cases=False)
    for t in set(threading.enumerate()) - before:
        t.join(scaled(2.0))
    with pytest.raises(AssertionError, match="one client at a time"):
        checks.check_concurrent_server(A.reference("03_server", "ex4_serve_clients"), deadline=FAST)
    assert capfd.readouterr().err == ""


# --- a peer that never answers: the learner's timeouts are quickened, and only the clock is trusted ----------

def test_a_silent_peer_is_waited_out_quickly_and_a_select_style_still_passes():
    import time

    start = time.monotonic()
    checks.check_probe(A.reference("04_client", "ex1_probe"))
    quick = time.monotonic() - start
    [select_style] = [a for a in A.correct_answers("04_client", "ex1_probe") if a.name == "select"]
    start = time.monotonic()
    checks.check_probe(A.load(select_style))  # not quickened: waited out for real
    assert time.monotonic() - start > 0.9 > quick


def test_a_timeout_too_long_fails_on_the_clock_even_when_the_kernel_reports_none(monkeypatch):
    """A judged kernel reports the timeouts its code asked for; one that lies (an empty report) and sets
    5 s is quickened to 1 s, slower than a quickened second: made again as it is, it waits 5 s, past 1.6 s."""
    import contextlib

    from course_lib import faults

    real = faults.quick_timeouts

    @contextlib.contextmanager
    def hides_what_it_asked(factor=10.0):
        with real(factor):
            yield []

    monkeypatch.setattr(faults, "quick_timeouts", hides_what_it_asked)
    waits_too_long = A.load(WRONG["04_client/ex1_probe__waits_too_long"])
    with pytest.raises(AssertionError, match="still waiting after 1.6 s"):
        checks.check_probe(waits_too_long)
    monkeypatch.undo()
    with pytest.raises(AssertionError, match="it set a timeout of 5 s"):  # reported: named
        checks.check_probe(waits_too_long)
