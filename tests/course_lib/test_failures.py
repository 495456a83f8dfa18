"""The failure as the learner sees it: course_lib.failures (the clean block) and course_lib.exchange (drawn)."""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from course_lib import checks, exchange, failures
from course_lib.transcript import Transcript

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def echo_transcript() -> Transcript:
    t = Transcript()
    t.note("client", "connected to ('127.0.0.1', 4000)")
    t.sent("client", b"hello")
    t.received("client", b"hello")
    t.sent("client", b" world")
    t.eof("client")
    t.close("client")
    return t


def test_steps_draw_each_side_and_mark_where_it_went_wrong():
    steps = exchange.steps(echo_transcript())
    assert [(s.src, s.dst, s.kind) for s in steps] == [
        ("client", "server", "connect"), ("client", "server", "sent"), ("server", "client", "received"),
        ("client", "server", "sent"), ("server", "client", "eof"), ("client", None, "close")]
    assert [s.kind for s in steps if s.bad] == ["eof"]  # the learner's last act: it closed early
    t = Transcript()
    t.sent("client 1", b"x")
    t.reset("client 1", "(saw ECONNRESET)")
    t.timeout("client 2", "(gave up after 1.00 s)")
    assert [s.kind for s in exchange.steps(t) if s.bad] == ["reset"]  # the first reset/timeout/error
    assert exchange.lanes(t) == ["client 1", "client 2", "server"]


def test_text_form_is_one_line_per_step_and_elides_the_middle():
    text = exchange.text(echo_transcript())
    assert "client ──▶ server  b'hello' (5 bytes)" in text
    assert "client ◀── server  end of data (closed or shut down)   ◀ here" in text
    t = Transcript()
    for i in range(40):
        t.sent("client", bytes([65 + i % 26]))
        t.note("client", f"step {i}")
    short = exchange.text(t, max_steps=10)
    assert len(short.splitlines()) <= 12 and "more step(s)" in short
    assert "nothing was sent" in exchange.text(Transcript())


def test_svg_is_static_and_well_formed():
    picture = exchange.svg(echo_transcript(), title="the exchange")
    root = ET.fromstring(picture)
    assert root.tag.endswith("svg")
    assert "<script" not in picture and not re.search(r"\son[a-z]+=", picture)
    assert "server (yours)" in picture and "b&#x27;hello&#x27; (5 bytes)" in picture
    assert picture.count("#ffebee") == 1  # one highlighted step
    ET.fromstring(exchange.svg(Transcript()))  # an empty exchange still draws


def test_check_failure_reads_expected_got_hint_and_the_exchange():
    err = checks._fail("the server closed the connection after echoing 0 of the 6 bytes of message 2.",
                       expected=checks._show(b" world"), got=checks._show(b""), hint="loop until b''",
                       transcript=echo_transcript())
    assert isinstance(err, AssertionError) and err.transcript is not None
    text = str(err)
    assert text.splitlines()[1:4] == ["  expected: b' world' (6 bytes)", "  got:      b'' (0 bytes)",
                                      "  hint: loop until b''"]
    assert "  the exchange:" in text and "◀ here" in text
    lines = [ANSI.sub("", line) for line in err._render_traceback_()]
    assert lines == text.splitlines()


def stub(listener):
    raise NotImplementedError()


def test_a_blank_exercise_is_one_line_wherever_the_stub_raised():
    with pytest.raises(NotImplementedError) as info:
        checks.check_echo_server(stub, edge_cases=False)
    lines = failures.render(info.value)
    assert [ANSI.sub("", line) for line in lines] == [
        "`stub` is not written yet: replace `raise NotImplementedError()` with your code."]


def sends_str(listener):
    conn, _ = listener.accept()
    with conn:
        conn.sendall("hello")  # the learner's mistake: str, not bytes


def test_learner_frames_stay_and_harness_frames_go():
    with pytest.raises(AssertionError) as info:
        checks.check_echo_server(sends_str, edge_cases=False)
    text = "\n".join(ANSI.sub("", line) for line in failures.render(info.value))
    assert text.startswith("sends_str: ") or text.startswith("sends_str(")  # the exercise, named first
    assert "raised TypeError" in text and "your code raised TypeError" in text
    assert 'in sends_str:  conn.sendall("hello")' in text
    assert "course_lib" not in text and "Traceback" not in text
    assert failures.transcript_of(info.value) is not None


def test_other_errors_keep_the_usual_traceback():
    assert failures.render(ValueError("boom")) is None
    assert failures.install() is False  # not in IPython: nothing to install
