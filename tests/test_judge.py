"""The judge outside the learner's kernel (course_lib/judge): its channel, and its verdicts on every section.

The channel tests run both ends in this process. The section tests run the real judge
(`python -I -m course_lib.judge`) against a stand-in kernel: a Python process that runs the notebook's
set-up and solution cells, then the agent, as the kernel does at grading. Every reference solution and
every correct answer in another style (tests/correct_answers/) must pass every cell the judge judges;
the blank notebook must fail them all. One test grades section 03 through the whole pipeline with a
trick the static scan does not see.
"""
from __future__ import annotations

import array
import contextlib
import json
import os
import re
import select
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

import nbformat
import pytest

from course_lib import faults
from course_lib.grading.cells import grade_id, is_graded, is_solution, nbgrader_meta, solution_cell
from course_lib.judge import agent, client, procfs, run, wire, wiretap
from course_lib.judge.kernel_only import kernel_only

HERE = Path(__file__).parent
REPO = HERE.parent
NOTEBOOKS = REPO / "notebooks"
CORRECT = HERE / "correct_answers"
SECTIONS = sorted(p.name for p in NOTEBOOKS.iterdir() if p.is_dir() and list(p.glob("*.ipynb")))

pytestmark = pytest.mark.skipif(not hasattr(socket, "AF_UNIX") or not sys.platform.startswith("linux"),
                                reason="the judge's channel needs AF_UNIX and SO_PEERCRED (Linux)")


# --- the channel -------------------------------------------------------------------------------------

@pytest.fixture
def pair():
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    yield wire.Channel(a), b
    a.close()
    b.close()


def test_a_socket_crosses_the_channel_as_a_descriptor(pair):
    channel, other = pair
    far = wire.Channel(other)
    x, y = socket.socketpair()
    with x, y:
        enc = wire.Encoder()
        channel.send({"v": enc.encode((b"data", x, {1: socket.AF_INET}))}, enc.fds)
        message, fds = far.recv()
        value = wire.decode(message["v"], fds)
        assert value[0] == b"data" and value[2] == {1: socket.AF_INET}
        assert isinstance(value[2][1], socket.AddressFamily)
        with value[1] as copy:
            assert copy.fileno() != x.fileno()
            copy.sendall(b"through the copy")
            y.settimeout(2)
            assert y.recv(100) == b"through the copy"


def test_a_harness_sockets_shape_crosses_the_channel(pair):
    from course_lib.runners import HarnessSocket, shape
    channel, other = pair
    far = wire.Channel(other)
    x, y = socket.socketpair()
    sx = shape(x, short_sends=True, short_recvs=False, recv_cap=2)
    with sx, y:
        enc = wire.Encoder()
        channel.send({"v": enc.encode(sx)}, enc.fds)
        message, fds = far.recv()
        with wire.decode(message["v"], fds, harness=HarnessSocket) as copy:
            assert (copy.short_sends, copy.short_recvs, copy.recv_cap) == (True, False, 2)
            y.sendall(b"abc")
            assert copy.recv(10) == b"ab"


def test_values_round_trip_as_plain_data():
    value = [None, True, 3, 2.5, float("inf"), "text", b"\x00\xff", bytearray(b"ab"), (1, (2,)), {"k": [1]},
             {frozenset()}.pop(), socket.SOCK_DGRAM]
    got = wire.decode(json.loads(json.dumps(wire.Encoder().encode(value))), [])
    assert got[:10] == value[:10] and type(got[8]) is tuple and isinstance(got[11], socket.SocketKind)
    err = wire.decode(wire.Encoder().encode(ConnectionRefusedError(111, "refused")), [])
    assert type(err) is ConnectionRefusedError and err.errno == 111
    assert isinstance(wire.decode({"$exc": {"type": "Evil", "module": "__main__", "message": "x"}}, []),
                      wire.RemoteError)
    with pytest.raises(TypeError):
        wire.Encoder().encode(object())  # the judge sends nothing but data


@pytest.mark.parametrize("garbage", [
    wire.HEADER.pack(wire.MAX_FRAME + 1),  # a huge length: refused before anything is read
    wire.HEADER.pack(5) + b"{nope",  # not JSON
    wire.HEADER.pack(2) + b"[]",  # not an object
    wire.HEADER.pack(40) + b'{"v": {"$pickle": "gASVAAAAAAAAAAA="}}    ',  # an unknown tag
])
def test_a_bad_frame_is_a_protocol_error(pair, garbage):
    channel, other = pair
    other.sendall(garbage)
    with pytest.raises(wire.ProtocolError):
        message, fds = channel.recv()
        wire.decode(message["v"], fds)


def test_too_many_descriptors_are_refused_and_closed(pair):
    channel, other = pair
    fds = [os.open(os.devnull, os.O_RDONLY) for _ in range(wire.MAX_FDS + 4)]
    try:
        before = len(os.listdir("/proc/self/fd"))
        other.sendmsg([wire.HEADER.pack(2) + b"{}"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))])
        with pytest.raises(wire.ProtocolError):
            channel.recv()
        assert len(os.listdir("/proc/self/fd")) <= before  # none of them kept
    finally:
        for fd in fds:
            os.close(fd)


def test_only_a_process_of_the_kernel_may_connect(tmp_path):
    path = str(tmp_path / "j.sock")
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(path)
    listener.listen(1)
    with socket.socket(socket.AF_UNIX) as stranger:
        stranger.connect(path)
        child = subprocess.Popen(["sleep", "30"])
        try:  # the kernel's tree is the child's: this process is a stranger to it
            with pytest.raises((PermissionError, TimeoutError, OSError)):
                run.accept_kernel(listener, child.pid, None, time.monotonic() + 0.5)
        finally:
            child.kill()
            child.wait()
    listener = socket.socket(socket.AF_UNIX)
    os.unlink(path)
    listener.bind(path)
    listener.listen(1)
    with socket.socket(socket.AF_UNIX) as kernel:
        kernel.connect(path)
        conn, pid, _uid, _gid = run.accept_kernel(listener, os.getpid(), os.getuid(), time.monotonic() + 2)
        with conn:
            assert pid == os.getpid()


def _client_against(behaviour):
    """A Client whose far end runs `behaviour(sock)` in a thread (a hostile agent)."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    thread = threading.Thread(target=behaviour, args=(theirs,), daemon=True)
    thread.start()
    return client.Client(ours), theirs, thread


@pytest.mark.parametrize("reply", [
    lambda s: s.sendall(b"\x00\x00\x00\x05hello"),  # garbage
    lambda s: s.sendall(b"\xff\xff\xff\xff"),  # a huge length
    lambda s: s.sendall(wire.HEADER.pack(10) + b'{"id": 1, '),  # cut short, then closed
])
def test_a_hostile_agent_gets_a_clear_verdict_at_once(reply):
    def agent_side(sock):
        wire.Channel(sock).recv()
        reply(sock)
        sock.close()

    judge, theirs, thread = _client_against(agent_side)
    judge.deadline = time.monotonic() + 10
    start = time.monotonic()
    with pytest.raises(client.ChannelBroken):
        client.LearnerFunction(judge, "anything")(1)
    assert time.monotonic() - start < 5
    judge.close()
    thread.join(2)


def _agent_saying_a_quarter_second(timeout: float | None):
    """A hostile agent: asked for a new socket, it makes one with `timeout`, waits on it where the judge
    asks it to, and says its timeout is 0.25."""
    def agent_side(sock):
        channel = wire.Channel(sock)
        message, _ = channel.recv()
        made = socket.socket()
        made.settimeout(timeout)
        if "wait_at" in message:
            made.connect(tuple(message["wait_at"]))
            with contextlib.suppress(OSError):
                made.recv(1)
        encoder = wire.Encoder()
        value = encoder.encode(made)
        value["timeout"] = 0.25  # the lie
        channel.send({"id": message["id"], "ok": True, "value": value}, encoder.fds)
        made.close()

    return agent_side


def test_an_agent_that_reports_a_timeout_its_socket_does_not_have_is_caught():
    """Where the kernel's threads cannot be read (this agent has no pid), the agent's report of a new
    socket's timeout is checked against the socket's descriptor: a blocking descriptor with a reported
    timeout of 0.25 breaks the channel."""
    judge, theirs, thread = _client_against(_agent_saying_a_quarter_second(None))  # blocking: no timeout
    judge.deadline = time.monotonic() + 10
    with pytest.raises(client.ChannelBroken, match="timeout its socket does not have"):
        judge.process.new_socket_timeout()
    judge.close()
    thread.join(2)
    theirs.close()


def test_an_agent_that_never_answers_fails_the_call_at_the_deadline():
    judge, theirs, thread = _client_against(lambda s: wire.Channel(s).recv())
    judge.deadline = time.monotonic() + 0.3
    start = time.monotonic()
    with pytest.raises(client.JudgeTimeout):
        client.LearnerFunction(judge, "sleeper")()
    assert time.monotonic() - start < 3
    judge.close()
    theirs.close()


def _serve(namespace: dict):
    """The real agent serving `namespace` over a socketpair; (Client, thread)."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    serving = threading.Thread(target=agent.Agent(wire.Channel(theirs), namespace).serve, daemon=True)
    serving.start()
    judge = client.Client(ours)
    judge.deadline = time.monotonic() + 10
    return judge, serving, theirs


def test_the_agent_calls_the_learners_functions_and_mirrors_what_they_did():
    def echo_once(listener):
        conn, _ = listener.accept()
        with conn:
            conn.sendall(conn.recv(100).upper())

    def make_listener():
        s = socket.create_server(("127.0.0.1", 0))
        return s, s.getsockname()[1]

    def closes(sock):
        sock.close()

    def fill(buf):
        buf[:] = b"x" * len(buf)

    def refuses():
        raise ConnectionRefusedError(111, "Connection refused")

    def floods():
        return b"x" * wire.MAX_FRAME

    namespace = {"echo_once": echo_once, "make_listener": make_listener, "closes": closes, "fill": fill,
                 "refuses": refuses, "floods": floods, "LIMIT": 7}
    judge, serving, theirs = _serve(namespace)
    try:
        assert judge.lookup(["echo_once", "LIMIT", "nothing"]) == {
            "echo_once": "callable", "LIMIT": ("value", 7), "nothing": "missing"}
        listener, port = client.LearnerFunction(judge, "make_listener")()
        with listener:
            worker = threading.Thread(target=client.LearnerFunction(judge, "echo_once"), args=(listener,))
            worker.start()
            with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
                c.sendall(b"hi")
                assert c.recv(10) == b"HI"
                assert c.recv(10) == b""  # the learner closed the connection: EOF
            worker.join(5)
        a, b = socket.socketpair()
        with a, b:
            client.LearnerFunction(judge, "closes")(a)
            assert a.fileno() == -1  # closed in the kernel, so closed here too
        buf = bytearray(4)
        client.LearnerFunction(judge, "fill")(buf)
        assert buf == b"xxxx"
        with pytest.raises(ConnectionRefusedError):
            client.LearnerFunction(judge, "refuses")()
        with pytest.raises(ValueError, match="could not be sent"):  # too large to cross: an answer, not a hang
            client.LearnerFunction(judge, "floods")()
    finally:
        judge.close()
        serving.join(5)
        theirs.close()


def test_faults_are_forwarded_to_the_kernel_and_the_injected_error_comes_back_itself():
    def connects(address):
        with socket.socket() as s:
            s.connect(address)

    judge, serving, theirs = _serve({"connects": connects})
    error = ConnectionResetError(104, "injected")
    try:
        with faults.inject("connect", error) as seen:
            with pytest.raises(ConnectionResetError) as caught:
                client.LearnerFunction(judge, "connects")(("127.0.0.1", 9))
        assert caught.value is error and seen.calls == 1
        with faults.inject("connect", error, when=lambda _s, _a: True):
            with pytest.raises(client.Unjudgeable):  # a callable `when` cannot cross: the cell is the kernel's
                client.LearnerFunction(judge, "connects")(("127.0.0.1", 9))
    finally:
        judge.close()
        serving.join(5)
        theirs.close()


# --- the judge on every section ----------------------------------------------------------------------

def _answers(section: str) -> dict[str, list[str]]:
    found = defaultdict(list)
    for path in sorted((CORRECT / section).glob("*.py")):
        found[path.stem.split("__")[0]].append(path.read_text())
    return found


def _variants(section: str) -> dict[str, dict[str, str]]:
    """name -> {solution grade_id: replacement source}: the reference, each k-th style, the blank."""
    [source] = sorted((NOTEBOOKS / section).glob("*.ipynb"))
    nb = nbformat.read(str(source), as_version=4)
    answers = _answers(section)
    variants: dict[str, dict[str, str]] = {"reference": {}}
    for k in range(max((len(v) for v in answers.values()), default=0)):
        variants[f"styles_{k}"] = {gid: styles[k] for gid, styles in answers.items() if len(styles) > k}
    variants["blank"] = {grade_id(c): re.sub(r"### BEGIN SOLUTION.*?### END SOLUTION", "raise NotImplementedError()",
                                             c.source, flags=re.S)
                         for c in nb.cells if c.cell_type == "code" and is_solution(c) and not is_graded(c)}
    return variants


def judge_standin(source: Path, replacements: dict[str, str], tmp: Path) -> dict[str, tuple]:
    """Run the judge against a stand-in kernel; {grade_id: (passed, reason)}."""
    nb = nbformat.read(str(source), as_version=4)
    code = []
    for cell in nb.cells:
        meta = nbgrader_meta(cell)
        if cell.cell_type != "code" or meta.get("grade"):
            continue
        if is_solution(cell):
            code.append(replacements.get(grade_id(cell), cell.source))
        elif meta.get("locked"):
            code.append(cell.source)
    tmp.mkdir(parents=True, exist_ok=True)
    path = tmp / "j.sock"
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(path))
    listener.listen(1)
    (tmp / "kernel.py").write_text("\n\n".join(code) + "\n\nimport course_lib.judge.agent as _a\n"
                                   f"_a.serve({str(path)!r}, globals())\n")
    kernel = None
    try:
        judge = subprocess.Popen([sys.executable, "-I", "-m", "course_lib.judge", "--source", str(source),
                                  "--listen-fd", str(listener.fileno()), "--section", source.parent.name],
                                 pass_fds=[listener.fileno()], stdout=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                 cwd=tmp)
        kernel = subprocess.Popen([sys.executable, str(tmp / "kernel.py")], cwd=tmp, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        out, _ = judge.communicate(timeout=300)
    finally:
        listener.close()
        if kernel is not None:
            kernel.kill()
            kernel.wait()
    lines = [json.loads(line) for line in out.decode().splitlines()]
    assert {"done": True} in lines, lines
    return {item["grade_id"]: (item["passed"], item["reason"]) for item in lines if "grade_id" in item}


@pytest.mark.parametrize("section", SECTIONS)
def test_every_correct_answer_passes_the_judge_and_the_blank_fails_it(section, tmp_path):
    [source] = sorted((NOTEBOOKS / section).glob("*.ipynb"))
    graded = [grade_id(c) for c in nbformat.read(str(source), as_version=4).cells if is_graded(c)]
    left = kernel_only(section)
    for name, replacements in _variants(section).items():
        verdicts = judge_standin(source, replacements, tmp_path / name)
        assert set(verdicts) == set(graded), name
        for gid, (passed, reason) in verdicts.items():
            if gid in left:
                assert passed is None, (name, gid)
            elif name == "blank":
                assert passed is not True, f"{section} blank: the judge passed {gid}"
            else:
                assert passed is not False, f"{section} {name}: the judge failed {gid}: {reason}"


# --- cells that observe the learner's process, judged from outside -----------------------------------

#: graded cells that used to be kernel-only (the notebook's verdict alone) and are judged now, by section
JUDGED_FROM_OUTSIDE = {
    "01_creation": ["ex2_describe_test", "ex2_describe_hidden", "ex3_adopt_test", "ex3_adopt_hidden"],
    "02_constants": ["ex2_platform_support_hidden"],
    "05_utilities": ["ex4_resolve_hidden", "ex5_default_timeout_test", "ex5_default_timeout_hidden"],
    "06_errors": ["ex5_connect_with_retry_hidden"],
    "07_multiplexing": ["ex3_serve_many_hidden", "ex4_relay_hidden"],
}


def _exercise(cell: str) -> str:
    return re.sub(r"_(test|hidden)$", "", cell)


@pytest.mark.parametrize("section", sorted(JUDGED_FROM_OUTSIDE))
def test_cells_that_look_at_the_learners_process_are_judged(section, tmp_path):
    """Each cell moved out of KERNEL_ONLY is judged: the reference and every style pass it (the test
    above), the blank and a blank that rebinds `checks` fail it, and some registered wrong answer of its
    exercise fails it in the judge too."""
    from answers import wrong_answers

    cells = JUDGED_FROM_OUTSIDE[section]
    assert not set(cells) & set(kernel_only(section))
    [source] = sorted((NOTEBOOKS / section).glob("*.ipynb"))
    blank = _variants(section)["blank"]
    hostile = {**blank, **{gid: text + "\n\n" + REBINDS_CHECKS_ONLY for gid, text in blank.items()}}
    for name, replacements in (("reference", {}), ("blank", blank), ("blank_rebinds_checks", hostile)):
        verdicts = judge_standin(source, replacements, tmp_path / name)
        for cell in cells:
            assert verdicts[cell][0] is (name == "reference"), (name, cell, verdicts[cell])
    caught: dict[str, list[str]] = {cell: [] for cell in cells}
    for exercise in sorted({_exercise(c) for c in cells}):
        for answer in wrong_answers(section, exercise):
            if all(caught[c] for c in cells if _exercise(c) == exercise):
                break  # (each further judge run costs a second or more: one catch per cell is the claim)
            verdicts = judge_standin(source, {exercise: answer.source}, tmp_path / f"w{len(os.listdir(tmp_path))}")
            for cell in cells:
                if _exercise(cell) == exercise and verdicts[cell][0] is False:
                    caught[cell].append(answer.name)
    assert all(caught.values()), caught


def test_sockets_the_learner_leaves_open_in_the_kernel_are_seen_from_outside(tmp_path):
    """A leak check counts the kernel's sockets (/proc/<kernel>/fd), not only the judge's: sockets kept
    open (a module-level list) and sockets forgotten on an error path (kept alive by the traceback in
    the notebook) fail bind_all's hidden cell in the judge as they do in the notebook."""
    from answers import wrong_answers

    [source] = sorted((NOTEBOOKS / "01_creation").glob("*.ipynb"))
    mistakes = {a.name: a for a in wrong_answers("01_creation", "ex5_bind_all")}
    kept = judge_standin(source, {"ex5_bind_all": mistakes["keeps_ports_reserved"].source}, tmp_path / "kept")
    assert kept["ex5_bind_all_hidden"][0] is False
    assert "left 3 sockets open in the learner's kernel: fd " in kept["ex5_bind_all_hidden"][1]
    assert "AF_INET SOCK_STREAM socket bound to" in kept["ex5_bind_all_hidden"][1]
    on_error = judge_standin(source, {"ex5_bind_all": mistakes["leaks_on_error"].source}, tmp_path / "error")
    assert on_error["ex5_bind_all_hidden"][0] is False, on_error["ex5_bind_all_hidden"]


def test_a_kernel_socket_is_described_from_its_network_table():
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        link = f"socket:[{os.fstat(listener.fileno()).st_ino}]"
        assert procfs.describe_socket(os.getpid(), link) == f"AF_INET SOCK_STREAM socket bound to " \
                                                                   f"{('127.0.0.1', port)!r}"
    assert procfs.net_address("0100007F:1F90") == ("127.0.0.1", 8080)
    assert procfs.describe_socket(os.getpid(), "socket:[0]") == "a socket"


REBINDS_CHECKS_ONLY = '''class _Passes:
    def __getattr__(self, name):
        return lambda *args, **kwargs: None


checks = _Passes()
'''


# --- the whole pipeline: a trick the static scan misses ------------------------------------------------

REBINDS_CHECKS = '''def start_server():
    """Open a listening TCP socket on 127.0.0.1, port chosen by the OS; return (sock, port)."""
    raise NotImplementedError()


from operator import attrgetter as _reach  # the shell's namespace, by a spelling the scan does not know


class _Passes:
    def __getattr__(self, name):
        return lambda *args, **kwargs: None


_reach("_" + "ip")(exit).user_ns.update(checks=_Passes())
'''


def test_a_blank_notebook_that_rebinds_checks_scores_nothing(tmp_path):
    from course_lib.grading.grade import grade
    from course_lib.grading.integrity import inspect_submission

    [source] = sorted((NOTEBOOKS / "03_server").glob("*.ipynb"))
    subs = tmp_path / "subs"
    for student in ("reference", "rebinds_checks"):
        (subs / student / "03_server").mkdir(parents=True)
    shutil.copyfile(source, subs / "reference" / "03_server" / source.name)
    nb = nbformat.read(str(source), as_version=4)
    for gid, blank in _variants("03_server")["blank"].items():  # nothing written at all
        solution_cell(nb, gid).source = blank
    solution_cell(nb, "ex1_start_server").source = REBINDS_CHECKS
    assert inspect_submission(nb, nbformat.read(str(source), as_version=4)) == ([], [])  # unseen by the scan
    nbformat.write(nb, str(subs / "rebinds_checks" / "03_server" / source.name))
    results = {r.student: r for r in grade(subs, tmp_path / "out", feedback=False, jobs=2)}
    reference, trick = results["reference"], results["rebinds_checks"]
    assert (reference.score, reference.status) == (reference.max_score, "graded"), reference
    assert trick.score == 0 and trick.status == "flagged", trick
    assert any("the judge failed it" in flag for flag in trick.flags), trick.flags
    assert "judge" in trick.timings
    # without the judge the trick works: it is the judge, not the scan or nbgrader, that zeroes it
    unjudged = {r.student: r for r in grade(subs, tmp_path / "out_unjudged", feedback=False, jobs=2, judge=False)}
    fooled = unjudged["rebinds_checks"]
    assert fooled.score == fooled.max_score and "judge" not in fooled.timings, fooled


REBINDS_CHECKS_BY_REACH = '''

from operator import attrgetter as _reach  # the shell's namespace, by a spelling the scan does not know


class _Passes:
    def __getattr__(self, name):
        return lambda *args, **kwargs: None


_reach("_" + "ip")(exit).user_ns.update(checks=_Passes())
'''


def test_blank_notebooks_that_rebind_checks_lose_the_cells_judged_from_outside(tmp_path):
    """Through the whole pipeline (kernel, jail, judge): the cells that look at the learner's process
    (01's descriptor numbers, 05's default timeout) pass in a blank notebook that rebinds `checks`,
    and the judge fails them: each scores 0 and is flagged as passed by the notebook, failed by the judge."""
    from course_lib.grading.grade import grade

    sections = ("01_creation", "05_utilities")
    for section in sections:
        [source] = sorted((NOTEBOOKS / section).glob("*.ipynb"))
        nb = nbformat.read(str(source), as_version=4)
        blank = _variants(section)["blank"]
        for gid, text in blank.items():
            solution_cell(nb, gid).source = text
        first = next(iter(blank))
        solution_cell(nb, first).source += REBINDS_CHECKS_BY_REACH
        (tmp_path / "subs" / "hostile" / section).mkdir(parents=True)
        nbformat.write(nb, str(tmp_path / "subs" / "hostile" / section / source.name))
    results = {r.assignment: r for r in grade(tmp_path / "subs", tmp_path / "out", feedback=False, jobs=2)}
    for section in sections:
        result = results[section]
        assert result.status == "flagged", result
        for cell in JUDGED_FROM_OUTSIDE[section]:
            assert result.cells[cell][0] == 0, (section, cell, result.cells[cell])
            assert any(flag.startswith(f"{cell}: the notebook's own test passed") and "the judge failed it" in flag
                       for flag in result.flags), (cell, result.flags)


def test_the_workers_reading_of_verdicts_keeps_kernel_only_cells_apart():
    from course_lib.grading.worker import _judged
    from course_lib.judge.execute import _parse

    record: dict = {"cells": {}, "error": None}
    _parse([json.dumps({"grade_id": "a", "passed": None, "reason": "kernel only"}),
            json.dumps({"grade_id": "b", "passed": False, "reason": "wrong"}),
            json.dumps({"grade_id": "c", "passed": True, "reason": "passed"}), json.dumps({"done": True})], record)
    assert record["cells"]["a"][0] is None and record["error"] is None
    judging: dict = {"unjudged": [], "kernel": [], "flags": [], "notes": []}
    assert [_judged(2.0, gid, record, judging) for gid in "abcd"] == [2.0, 0.0, 2.0, 0.0]
    assert judging["kernel"] == ["a"] and judging["unjudged"] == ["d"] and "b: the notebook's own test passed" in \
        judging["flags"][0]
    cut: dict = {"cells": {}, "error": None}
    _parse([json.dumps({"accepted": True})], cut)  # a judge killed before it finished
    assert cut["error"] and not cut["cells"]


def test_kernel_only_cells_are_real_graded_cells():
    from course_lib.judge.kernel_only import KERNEL_ONLY

    for section, cells in KERNEL_ONLY.items():
        [source] = sorted((NOTEBOOKS / section).glob("*.ipynb"))
        graded = {grade_id(c) for c in nbformat.read(str(source), as_version=4).cells if is_graded(c)}
        assert set(cells) <= graded, (section, set(cells) - graded)


def test_a_context_manager_stays_in_the_kernel_and_its_process_is_seen_from_outside():
    """What course_lib.learner asks of the kernel: a returned context manager runs there; descriptor
    numbers come from /proc/<pid>/fd (here the kernel is this process); the default timeout is asked."""
    import contextlib

    from course_lib.learner import process_of

    log: list = []

    @contextlib.contextmanager
    def managed(x):
        log.append(("enter", x))
        try:
            yield x * 2
        finally:
            log.append("exit")

    def number_of(sock):
        return sock.fileno()

    judge, serving, theirs = _serve({"managed": managed, "number_of": number_of})
    judge.pid = os.getpid()
    try:
        cm = client.LearnerFunction(judge, "managed")(21)
        assert isinstance(cm, client.RemoteObject)
        with pytest.raises(KeyError), cm as got:  # the block's exception reaches the kernel's __exit__
            assert got == 42 and log == [("enter", 21)]
            raise KeyError("boom")
        assert log[-1] == "exit"
        fn = client.LearnerFunction(judge, "number_of")
        where = process_of(fn)
        a, b = socket.socketpair()
        with a, b:
            with where.numbering():
                said = fn(a)
            assert said != a.fileno() and where.number(a, said) == said == where.given_number(a, -1)
            assert where.number(a, 10**6) in (a.fileno(), said)  # a number it does not have: one it has
            a_number = where.number(a, said)
        assert where.number(a) == -1 and a_number == said  # closed here: no number
        assert where.getdefaulttimeout() == socket.getdefaulttimeout()
        assert where.new_socket_timeout() == socket.getdefaulttimeout()
        assert where.threads() and where.threads() >= threading.active_count()
    finally:
        judge.close()
        serving.join(5)
        theirs.close()


def test_the_checks_helpers_are_forwarded_and_replayed():
    """pretend_platform, fake_getaddrinfo, count_connect_attempts and inject(when=to_address) as data."""
    from course_lib.checks.constants import pretend_platform
    from course_lib.checks.provoke import count_connect_attempts
    from course_lib.checks.utilities import fake_getaddrinfo
    from course_lib.peers import refused_address

    entry = (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("192.0.2.7", 0))
    with pretend_platform("SOCK_RDM", has_ipv6=False), fake_getaddrinfo([entry]), count_connect_attempts(), \
            faults.inject("bind", OSError(99, "no"), when=faults.to_address(host="::1")):
        specs = [f.describe() for f in faults.active()]
    assert None not in specs and [s["kind"] for s in specs] == ["pretend_platform", "fake_getaddrinfo",
                                                               "count_connect_attempts", "inject"]
    specs = wire.decode(json.loads(json.dumps(wire.Encoder().encode(specs))), [])
    with refused_address() as nowhere, faults.replay(specs) as results:
        assert not hasattr(socket, "SOCK_RDM") and socket.has_ipv6 is False
        assert socket.getaddrinfo("x", 443)[0][4] == ("192.0.2.7", 443)
        with socket.socket() as s:
            s.connect_ex(nowhere)
        with socket.socket(socket.AF_INET6) as s6, pytest.raises(OSError):
            s6.bind(("::1", 0))
    assert hasattr(socket, "SOCK_RDM") and socket.has_ipv6 is True
    seen = [get() for get in results]
    assert seen[0] is None and seen[1][0]["host"] == "x" and seen[2]["attempts"] == 1
    assert seen[3] == {"calls": 1, "raised": 1}
    with faults.replay([{"kind": "record_unclosed"}, {"kind": "watch_selectors", "echo": False}]) as results:
        _learner_like_drop_and_leave_open()
    unclosed, selectors_seen = [get() for get in results]
    assert len(unclosed) == 1 and "unclosed <socket" in unclosed[0] and selectors_seen["left"] == 1


def _learner_like_drop_and_leave_open():
    import selectors

    socket.socket()  # dropped unclosed: a ResourceWarning, recorded
    selectors.DefaultSelector()  # left open: the watch keeps it, and closes it when asked what it saw


def test_replayed_faults_report_what_the_kernel_saw():
    """What the agent does with forwarded faults: open them around the call, hand back what they saw."""
    specs = [{"kind": "short_sends", "made": 2}, {"kind": "record_sleeps"}, {"kind": "watch", "methods": ["connect"],
                                                                             "look": "timeout"}]
    a, b = socket.socketpair()
    with a, b, faults.replay(specs) as results:
        sent = _learner_like_send(a)
    assert sent == 5 and [get() for get in results] == [{"made": 3}, [], []]
    with faults.quick_timeouts() as asked:  # the judge's side: the kernel's report is merged into its list
        [forward] = [f for f in faults.active() if f.spec["kind"] == "quick_timeouts"]
        spec = forward.describe()
        with socket.socket() as c, faults.replay([spec]) as results:
            c.settimeout(2.0)  # (from a test file: the learner's call)
            assert c.gettimeout() == pytest.approx(2.0 / spec["factor"])
        forward.merge(results[0]())
    assert asked == [2.0]


def _learner_like_send(sock):
    return sock.send(b"0123456789")  # (called from a test file: faults count it as the learner's)


# --- what the kernel reports is checked against what is seen from outside ----------------------------

HIDES_ITS_KNOCKS = (HERE / "wrong_answers" / "06_errors" / "ex5_connect_with_retry__never_sleeps.py").read_text() + '''

import contextlib as _contextlib

import course_lib.checks.errors as _errors
import course_lib.checks.provoke as _provoke

_real_count = _provoke.count_connect_attempts


@_contextlib.contextmanager
def _six_knocks():  # the count the backoff test wants to see, whatever was done
    with _real_count() as counter:
        yield counter
        counter.attempts = 6


_put = type(_errors).__setattr__  # (a spelling the static scan does not know)
for _module in (_errors, _provoke):
    _put(_module, "count_connect_attempts", _six_knocks)
'''


LINEAR_BACKOFF = HERE / "wrong_answers" / "06_errors" / "ex5_connect_with_retry__linear_backoff.py"
HIDES_ITS_BACKOFF = LINEAR_BACKOFF.read_text() + '''

import contextlib as _contextlib

import course_lib.faults as _faults

_real_sleeps = _faults.record_sleeps


@_contextlib.contextmanager
def _doubling():  # the delays the backoff test wants to see, whatever was slept
    with _real_sleeps() as delays:
        yield delays
        delays[:] = [0.01 * 2 ** k for k in range(len(delays))]


type(_faults).__setattr__(_faults, "record_sleeps", _doubling)  # (a spelling the static scan does not know)
'''


def _graded_hiding(tmp_path, section: str, exercise: str, answer: str):
    """Grade one submission of `section` (the reference, with `answer` for `exercise`) through the whole
    pipeline; its Result. The answer hides what it does from the kernel's reports, unseen by the scan."""
    from course_lib.grading.grade import grade
    from course_lib.grading.integrity import inspect_submission

    [source] = sorted((NOTEBOOKS / section).glob("*.ipynb"))
    nb = nbformat.read(str(source), as_version=4)
    solution_cell(nb, exercise).source = answer
    assert inspect_submission(nb, nbformat.read(str(source), as_version=4)) == ([], [])
    (tmp_path / "subs" / "hiding" / section).mkdir(parents=True)
    nbformat.write(nb, str(tmp_path / "subs" / "hiding" / section / source.name))
    [result] = grade(tmp_path / "subs", tmp_path / "out", feedback=False, jobs=1)
    if not result.timings.get("judge"):
        pytest.skip("no judge here (no sandbox with a network of its own)")
    return result


def _judged_so(result, exercise: str, reason: str, cell: str = "hidden") -> None:
    """The exercise's hidden cell scores 0, and `cell` is flagged: the notebook's own test passed it, the
    judge failed it, for `reason`."""
    assert result.cells[f"{exercise}_hidden"][0] == 0, result.cells
    assert any(flag.startswith(f"{exercise}_{cell}: the notebook's own test passed") and reason in flag
               for flag in result.flags), result.flags


def test_connection_attempts_are_counted_from_outside_the_kernel(tmp_path):
    """A connect_with_retry that hammers the server without sleeping, and makes course_lib report six
    attempts in its kernel (in the notebook's checks and in what the agent replays): the notebook's own
    hidden test passes; the judge counts the attempts in the kernel's network (its TCP ActiveOpens) and
    fails it."""
    result = _graded_hiding(tmp_path, "06_errors", "ex5_connect_with_retry", HIDES_ITS_KNOCKS)
    _judged_so(result, "ex5_connect_with_retry", "the judge failed it")


def test_the_backoff_is_judged_by_the_gaps_between_attempts_on_the_wire(tmp_path):
    """A connect_with_retry whose delays grow by 10 ms (10, 20, 30...) and makes course_lib report
    doubling ones: the notebook's own hidden test passes; the judge taps the kernel's loopback, where
    the third attempt follows the second by 30 ms, not the 40 a doubling backoff waits at least."""
    result = _graded_hiding(tmp_path, "06_errors", "ex5_connect_with_retry", HIDES_ITS_BACKOFF)
    _judged_so(result, "ex5_connect_with_retry", "seen on the wire")


HIDES_ITS_TIMEOUTS = (HERE / "wrong_answers" / "04_client" / "ex2_fetch_all__no_timeout.py").read_text() + '''

import contextlib as _contextlib

import course_lib.faults as _faults


@_contextlib.contextmanager
def _two_seconds(*methods, **how):  # every socket watched "has" a timeout of two seconds
    yield [2.0]


_put = type(_faults).__setattr__  # (a spelling the static scan does not know)
_put(_faults, "watch_timeouts", _two_seconds)
_put(_faults, "watch", _two_seconds)
'''


_TWO_SECONDS = HIDES_ITS_TIMEOUTS[HIDES_ITS_TIMEOUTS.index("\n\nimport contextlib as _contextlib"):]


@pytest.mark.parametrize("section, exercise", [("04_client", "ex10_send_file"),
                                               ("07_multiplexing", "ex5_tls_echo")])
def test_a_sender_or_a_handshake_is_judged_by_the_clock_too(tmp_path, section, exercise):
    """send_file and tls_echo without a timeout, making course_lib report two seconds on every socket:
    the judge also calls them against a server that never reads (a file too big for the buffers) or never
    answers (the handshake), where they are still waiting after a few seconds."""
    answer = (HERE / "wrong_answers" / section / f"{exercise}__no_timeout.py").read_text() + _TWO_SECONDS
    result = _graded_hiding(tmp_path, section, exercise, answer)
    _judged_so(result, exercise, "never answers")


def test_a_timeout_is_judged_by_the_clock_not_by_the_kernels_report(tmp_path):
    """A fetch_all without a timeout that makes course_lib report a timeout on every socket (in the
    notebook's checks and in what the agent replays): the notebook's own hidden test passes; the judge
    also calls it against a server that never answers, where it is still waiting after a few seconds."""
    result = _graded_hiding(tmp_path, "04_client", "ex2_fetch_all", HIDES_ITS_TIMEOUTS)
    _judged_so(result, "ex2_fetch_all", "never answers")


@pytest.mark.parametrize("default", [0.25, 3.0, None, 0.0])
def test_the_default_timeout_is_read_from_the_wait_of_a_socket_made_in_the_kernel(default):
    """The judge's view of the default timeout is a socket made in the kernel waiting on the judge, read
    in /proc (poll's limit, a blocking receive, or no wait at all), not what the agent says."""
    judge, serving, theirs = _serve({})
    judge.pid = os.getpid()
    saved = socket.getdefaulttimeout()
    try:
        socket.setdefaulttimeout(default)
        where = client.KernelProcess(judge)
        start = time.monotonic()
        assert where.new_socket_timeout() == default
        assert where.getdefaulttimeout() == default
        assert time.monotonic() - start < 1.0  # the judge ends the wait once it has seen it
    finally:
        socket.setdefaulttimeout(saved)
        judge.close()
        serving.join(5)
        theirs.close()


def test_an_agent_that_reports_another_timeout_than_its_socket_waits_with_is_seen_through():
    """The socket waits with a limit of one second and the agent says 0.25: the judge answers 1.0."""
    judge, theirs, thread = _client_against(_agent_saying_a_quarter_second(1.0))
    judge.pid = os.getpid()
    judge.deadline = time.monotonic() + 10
    try:
        assert client.KernelProcess(judge).new_socket_timeout() == 1.0
    finally:
        judge.close()
        thread.join(2)
        theirs.close()


HIDES_ITS_DEFAULT = '''
import contextlib

_said = [None]  # the default this answer claims, whatever it set


@contextlib.contextmanager
def default_timeout(seconds):
    previous = _said[0]
    socket.setdefaulttimeout(None if seconds is None else 1.0)  # wrong: one second, whatever was asked
    _said[0] = seconds
    try:
        yield previous
    finally:
        _said[0] = previous
        socket.setdefaulttimeout(None if previous is None else 1.0)


_put = type(socket).__setattr__  # (spellings the static scan does not know)
_put(socket, "getdefaulttimeout", lambda: _said[0])
type.__setattr__(socket.socket, "gettimeout", lambda self: _said[0])
'''


def test_the_default_timeout_is_what_a_new_socket_waits_with_not_what_the_kernel_says(tmp_path):
    """A default_timeout that always sets one second and makes `socket.getdefaulttimeout()` and every
    socket's `gettimeout()` say what was asked (no course_lib code touched): the notebook's own hidden
    test passes; the judge reads the wait of a socket made in the kernel (poll's limit: one second)."""
    result = _graded_hiding(tmp_path, "05_utilities", "ex5_default_timeout", HIDES_ITS_DEFAULT)
    _judged_so(result, "ex5_default_timeout", "got 1.0", cell="test")
    # and the hint: the socket module's own functions were rebound in the kernel
    assert any("was changed (socket.getdefaulttimeout, socket.socket.gettimeout" in flag
               for flag in result.flags), result.flags


SPINS = HERE / "wrong_answers" / "07_multiplexing" / "ex3_serve_many__always_watches_write.py"
HIDES_ITS_SPIN = SPINS.read_text() + '''

import course_lib.checks.watching as _watching

_watch = getattr(_watching, "_%s" % "SelectorWatch")  # (spellings the static scan does not know)
type.__setattr__(_watch, "_%s" % "note", lambda self, ready, write: None)  # nothing is seen spinning
'''


def test_a_busy_wait_is_judged_by_the_cpu_the_kernel_used_while_the_clients_were_idle(tmp_path):
    """A serve_many that watches EVENT_WRITE with nothing to send (its selector wakes at once, for ever)
    and stops course_lib's selector watch from counting it: the notebook's own hidden test passes; the
    judge reads the kernel's CPU time in /proc while every client is idle, and fails it."""
    result = _graded_hiding(tmp_path, "07_multiplexing", "ex3_serve_many", HIDES_ITS_SPIN)
    _judged_so(result, "ex3_serve_many", "busy-wait")


KEEPS_ACCEPTING = HERE / "wrong_answers" / "07_multiplexing" / "ex3_serve_many__keeps_accepting.py"
HIDES_ITS_ACCEPTS = KEEPS_ACCEPTING.read_text() + '''

_keeps_accepting = serve_many


def serve_many(listener, n):  # the connections past the n-th are struck from course_lib's count
    try:
        return _keeps_accepting(listener, n)
    finally:
        if hasattr(listener, "accepted"):
            del listener.accepted[n:]
'''


def test_a_client_taken_from_the_backlog_is_judged_by_the_backlog_not_by_the_kernels_count(tmp_path):
    """A serve_many that keeps accepting after its n clients and makes course_lib count only n: the
    notebook's own hidden test passes; the judge reads the listener's accept queue from its own
    descriptor (TCP_INFO) when the call ends, and the client that should wait there is gone."""
    result = _graded_hiding(tmp_path, "07_multiplexing", "ex3_serve_many", HIDES_ITS_ACCEPTS)
    _judged_so(result, "ex3_serve_many", "came after")


# --- what the judge reads from outside, unit by unit ---------------------------------------------------

def test_a_listeners_backlog_is_read_from_its_descriptor():
    with socket.create_server(("127.0.0.1", 0), backlog=8) as listener:
        assert procfs.backlog(listener) == 0
        waiting = [socket.create_connection(listener.getsockname()[:2], timeout=5) for _ in range(3)]
        try:
            end = time.monotonic() + 5  # (the last ACK may reach the listener just after connect returns)
            while procfs.backlog(listener) != 3 and time.monotonic() < end:
                select.select([], [], [], 0.001)
            assert procfs.backlog(listener) == 3
            conn, _ = listener.accept()
            conn.close()
            assert procfs.backlog(listener) == 2
        finally:
            for c in waiting:
                c.close()
    with socket.socket() as plain:
        assert procfs.backlog(plain) is None  # not a listener


def test_the_cpu_a_process_uses_is_read_from_outside():
    before = procfs.cpu_seconds(os.getpid())
    assert before is not None
    end = time.process_time() + 0.05
    while time.process_time() < end:
        pass
    assert procfs.cpu_seconds(os.getpid()) - before >= 0.04
    assert procfs.cpu_seconds(None) is None


def test_connection_attempts_are_timed_on_the_wire():
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        with wiretap.SynTap() as tap:
            if tap.sock is None:
                pytest.skip("no packet socket here (no CAP_NET_RAW)")
            for _ in range(3):
                with socket.socket() as c:
                    assert c.connect_ex(("127.0.0.1", port)) != 0
                time.sleep(0.02)  # noqa: TID251 - sleep-ok: the gap the tap is to measure
            times = tap.times(port)  # (other programs' attempts share this loopback)
    assert times is not None and len(times) == 3
    assert all(b - a >= 0.019 for a, b in zip(times, times[1:], strict=False))


@pytest.mark.parametrize("packet, syn", [
    (bytes.fromhex("4500003c0000400040060000" "7f0000017f000001" "d4310050" "00000000" "00000000" "a002ffff"
                   "00000000"), True),   # IPv4 SYN
    (bytes.fromhex("4500003c0000400040060000" "7f0000017f000001" "d4310050" "00000000" "00000000" "a012ffff"
                   "00000000"), False),  # SYN+ACK
    (bytes.fromhex("4500003c0000400040110000" "7f0000017f000001" "d4310050" "00000000" "00000000" "a002ffff"
                   "00000000"), False),  # UDP
    (b"", False), (b"\x45", False),
])
def test_only_a_bare_syn_counts_as_an_attempt(packet, syn):
    assert (wiretap._syn_port(packet) is not None) is syn
    assert wiretap._syn_port(packet) == (80 if syn else None)  # the port it knocks at


RETRIES_ANY_ERROR = HERE / "wrong_answers" / "06_errors" / "ex5_connect_with_retry__retries_every_oserror.py"
HIDES_ITS_RETRIES = RETRIES_ANY_ERROR.read_text() + '''

import contextlib as _contextlib

import course_lib.faults as _faults

_real_inject = _faults.inject


@_contextlib.contextmanager
def _two_calls(*args, **kwargs):  # the count the test wants to see, whatever was tried
    with _real_inject(*args, **kwargs) as seen:
        yield seen
        seen.calls = min(seen.calls, 2)


type(_faults).__setattr__(_faults, "inject", _two_calls)  # (a spelling the static scan does not know)
'''


def test_an_error_that_is_retried_is_judged_by_the_clock_not_by_the_kernels_count(tmp_path):
    """A connect_with_retry that retries every OSError and makes course_lib count two attempts: the
    notebook's own hidden test passes; in the judge the injected error, retried, comes back at every
    attempt until the budget is spent, and the clock sees that."""
    result = _graded_hiding(tmp_path, "06_errors", "ex5_connect_with_retry", HIDES_ITS_RETRIES)
    _judged_so(result, "ex5_connect_with_retry", "kept trying for")


NEVER_CLOSES = HERE / "wrong_answers" / "04_client" / "ex2_fetch_all__never_closes.py"
HIDES_ITS_LITTER = NEVER_CLOSES.read_text() + '''

import contextlib as _contextlib

import course_lib.checks.clients as _clients
import course_lib.resources as _resources

_real_record = _resources.record_unclosed


@_contextlib.contextmanager
def _nothing_unclosed():  # the garbage collector closed nothing, whatever it closed
    with _real_record() as record:
        yield record
    record.clear()


for _module in (_clients, _resources):
    type(_module).__setattr__(_module, "record_unclosed", _nothing_unclosed)  # (unseen by the static scan)
'''


def test_a_kernel_that_rewrites_what_only_it_can_report_is_flagged_for_review(tmp_path):
    """A fetch_all that leaves its socket to the garbage collector, and makes course_lib record no
    ResourceWarning: nothing outside the kernel tells a socket closed by the collector from one closed by
    the code (grading/README.md lists what only the kernel reports). The judge's hint does: course_lib's
    own functions were rebound in the kernel, and the submission is flagged for review."""
    result = _graded_hiding(tmp_path, "04_client", "ex2_fetch_all", HIDES_ITS_LITTER)
    assert result.status == "flagged", (result.cells, result.flags)
    assert any("was changed (course_lib.checks.clients.record_unclosed, course_lib.resources.record_unclosed)"
               in flag and "review the submission" in flag for flag in result.flags), result.flags


def test_the_review_hint_finds_nothing_where_nothing_was_changed_and_names_what_was():
    """agent.changed_code: nothing in an interpreter with all of course_lib loaded (other Pythons:
    tests/test_pythons.py); then a function, a contextmanager wrapping learner code, and a class from the
    notebook put in place of course_lib's and socket's own are each named."""
    import contextlib as cl
    import importlib
    import pkgutil

    import course_lib

    for found in pkgutil.walk_packages(course_lib.__path__, "course_lib."):
        if not found.name.endswith(".__main__"):
            importlib.import_module(found.name)
    assert agent.changed_code() == []

    @cl.contextmanager
    def wrapped():
        yield

    class Notebooks:
        def method(self):
            return None

    Notebooks.__module__ = "__main__"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(faults, "record_sleeps", wrapped)
        mp.setattr(faults, "Sleeps", Notebooks)
        mp.setattr(socket, "getdefaulttimeout", lambda: 0.25)
        mp.setattr(faults.Forward, "describe", lambda self: None)
        assert sorted(agent.changed_code()) == ["course_lib.faults.Forward.describe", "course_lib.faults.Sleeps",
                                                "course_lib.faults.record_sleeps", "socket.getdefaulttimeout"]


def test_a_listeners_live_connections_never_shrink_when_the_kernel_stops_answering():
    """LiveAccepted: three connections read live, then no answer (the call ended, or the cell's deadline
    passed): the next read gives the same three, not the list from before the call (empty until the
    judge mirrors it), so a check that reads len() and then [k] never sees an IndexError."""
    from course_lib.checks.servers import _echoed

    class Kernel:
        answers = [{"ok": True, "value": wire.Encoder().encode([{"bytes_sent": n} for n in (5, 6, 7)])}]

        def request(self, message):
            if not self.answers:
                raise client.JudgeTimeout("the cell's deadline passed")
            return self.answers.pop(), []

    class Listener:
        accepted = client.LiveAccepted(Kernel(), call=1, arg=0, before=[])

    assert len(Listener.accepted) == 3  # the kernel's last answer
    assert _echoed(Listener, 2) == 7  # no answer now: the same three connections
    assert len(Listener.accepted) == 3 and Listener.accepted[2].bytes_sent == 7
