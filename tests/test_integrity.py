"""The static scan flags code that reaches into the grader, and only that."""
from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from course_lib.grading.cells import is_solution
from course_lib.grading.integrity import course_names, inspect_submission, rebinds, scan_code

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("code,why", [
    ("get_ipython().set_custom_exc((Exception,), None)", "get_ipython"),
    ("import course_lib.checks\ncourse_lib.checks.check_echo_server = lambda *a: None",
     "replaces part of an imported module"),
    ("from course_lib import checks\nchecks.check_fetch_all = print", "replaces part of an imported module"),
    ("import socket\nsocket.socket.sendall = lambda *a: None", "replaces part of an imported module"),
    ("import builtins\nbuiltins.AssertionError = None", "imports builtins"),
    ("import sys\nsys.modules['course_lib'] = None", "sys.modules"),
    ("exec('x = 1')", "exec"),
    ("f = (lambda: 0).__globals__", "__globals__"),
    ("class X:\n    def __eq__(self, o):\n        return True", "__eq__"),
    ("%load_ext autoreload", "get_ipython"),
    ("!rm -rf /", "get_ipython"),
    ("import os\nos._exit(0)", "os._exit"),
])
def test_flags_tampering(code, why):
    reasons = scan_code(code)
    assert any(why in r for r in reasons), reasons


@pytest.mark.parametrize("code", [
    "import socket\nwith socket.socket() as s:\n    s.settimeout(1.0)",
    "import sys\nprint(sys.platform)",
    "%timeit sum(range(10))",
    "import errno\nif exc.errno == errno.ECONNREFUSED:\n    pass",
    "def broken(:\n    pass",  # does not parse: its tests fail on their own
])
def test_leaves_honest_code_alone(code):
    assert scan_code(code) == []


def test_no_reference_solution_or_wrong_answer_is_flagged():
    sources = [c.source for nb in sorted(ROOT.glob("notebooks/*/*.ipynb"))
               for c in nbformat.read(str(nb), as_version=4).cells if c.cell_type == "code" and is_solution(c)]
    sources += [p.read_text() for p in sorted(ROOT.glob("tests/wrong_answers/*/*.py"))]
    sources += [p.read_text() for p in sorted(ROOT.glob("tests/correct_answers/*/*.py"))]
    flagged = {i: scan_code(src) for i, src in enumerate(sources) if scan_code(src)}
    assert not flagged


def test_structural_changes_are_reported():
    source = nbformat.read(str(ROOT / "tests/fixtures/pilot_course/00_pilot/pilot.ipynb"), as_version=4)
    submitted = nbformat.read(str(ROOT / "tests/fixtures/pilot_course/00_pilot/pilot.ipynb"), as_version=4)
    submitted.cells = [c for c in submitted.cells if c.metadata.nbgrader.get("grade_id") != "ex1_roundtrip_hidden"]
    structural, tampering = inspect_submission(submitted, source)
    assert structural == ["test cell ex1_roundtrip_hidden was deleted"] and tampering == []


def test_unchanged_course_examples_are_not_scanned():
    source = nbformat.read(str(ROOT / "tests/fixtures/pilot_course/00_pilot/pilot.ipynb"), as_version=4)
    example = nbformat.v4.new_code_cell("print(ConnectionRefusedError.__mro__)")
    source.cells.insert(2, example)
    submitted = nbformat.from_dict(source)
    assert inspect_submission(submitted, source) == ([], [])
    submitted.cells[2].source += "\nprint(1)"  # edited by the learner: now it is theirs, and scanned
    assert inspect_submission(submitted, source)[1]


@pytest.mark.parametrize("code", [
    "class Quiet:\n    def __getattr__(self, name):\n        return lambda *a, **k: None\nchecks = Quiet()",
    "from course_lib import checks as _c\nimport types\nchecks = types.SimpleNamespace()",
    "import socket as checks",
    "def checks(*a, **k):\n    pass",  # a function standing in for the checks module
    "for checks in [None]:\n    pass",
    "def f():\n    global checks\n    checks = None",
])
def test_flags_rebinding_a_name_the_tests_use(code):
    source = nbformat.read(str(ROOT / "notebooks/03_server/server.ipynb"), as_version=4)
    names = course_names(source)
    names.update(course_names(nbformat.read(str(ROOT / "notebooks/01_creation/creation.ipynb"), as_version=4)))
    assert rebinds(code, names), code


def test_reimporting_what_the_course_imports_is_fine():
    source = nbformat.read(str(ROOT / "notebooks/03_server/server.ipynb"), as_version=4)
    assert rebinds("import socket\nfrom course_lib import checks\nchecks.__doc__", course_names(source)) == []


def test_no_reference_or_wrong_answer_rebinds_what_the_tests_use():
    flagged = {}
    for path in sorted(ROOT.glob("notebooks/*/*.ipynb")):
        names = course_names(nbformat.read(str(path), as_version=4))
        answers = sorted((ROOT / "tests" / "wrong_answers" / path.parent.name).glob("*.py"))
        answers += sorted((ROOT / "tests" / "correct_answers" / path.parent.name).glob("*.py"))
        for answer in answers:
            if rebinds(answer.read_text(), names):
                flagged[answer.name] = rebinds(answer.read_text(), names)
    assert not flagged


@pytest.mark.parametrize("code", [
    "exit._ip.set_custom_exc((Exception,), None)",
    "vars()['get_' + 'ipython']()",
    "%time get_ipython().events.register('post_run_cell', print)",
    "getattr(quit, '_' + 'ip')",
    "getattr(exit, '_ip')",
])
def test_flags_reach_ins_without_a_forbidden_name(code):
    assert scan_code(code), code


def test_probing_optional_flags_with_getattr_is_fine():
    assert scan_code("import socket\nflag = getattr(socket, 'SO_REUSEPORT', None)") == []
