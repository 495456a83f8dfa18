"""The socket-course command as a user meets it: help, errors, release, check, grade."""
from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from course_lib.grading.cells import solution_cell

PILOT = Path(__file__).parent / "fixtures" / "pilot_course"
WRONG = Path(__file__).parent / "fixtures" / "pilot_wrong_answers"


def run(*args, env_course: Path | None = PILOT, cwd=None, **extra_env: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, **extra_env)
    if env_course is not None:
        env["SOCKET_COURSE_NOTEBOOKS"] = str(env_course)
    return subprocess.run([sys.executable, "-m", "course_lib.cli", *args], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=300)


@pytest.mark.parametrize("args", [["--help"], ["release", "--help"], ["check", "--help"], ["grade", "--help"],
                                  ["lab", "--help"], ["list", "--help"]])
def test_help(args):
    proc = run(*args)
    assert proc.returncode == 0
    assert "usage: socket-course" in proc.stdout


def test_no_command_prints_help_and_fails():
    proc = run()
    assert proc.returncode == 2 and "release" in proc.stdout


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    out = tmp_path_factory.mktemp("release")
    proc = run("release", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    return out


def test_release_writes_student_versions(released):
    nb_path = released / "00_pilot" / "pilot.ipynb"
    text = nb_path.read_text()
    assert "raise NotImplementedError()" in text
    assert "BEGIN SOLUTION" not in text and "BEGIN HIDDEN TESTS" not in text
    assert "socketpair()\\n    with a, b" not in text  # the solution body is gone


def test_release_unknown_assignment_is_one_line_error(tmp_path):
    proc = run("release", "--out", str(tmp_path), "--assignment", "99_nope")
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0
    assert "unknown assignment '99_nope'" in proc.stderr and "00_pilot" in proc.stderr


def test_release_keep_existing_never_replaces_work(released, tmp_path):
    dest = tmp_path / "00_pilot" / "pilot.ipynb"
    dest.parent.mkdir()
    dest.write_text("my work")
    proc = run("release", "--out", str(tmp_path), "--keep-existing")
    assert proc.returncode == 0
    assert dest.read_text() == "my work"


def test_check_blank_fails_with_per_exercise_report(released):
    proc = run("check", str(released / "00_pilot" / "pilot.ipynb"))
    assert proc.returncode == 1
    assert "FAIL  ex1_roundtrip" in proc.stdout
    assert "not written yet" in proc.stdout
    assert "hidden test cell(s) run only when your work is graded" in proc.stdout


def test_check_reference_passes():
    proc = run("check", str(PILOT / "00_pilot" / "pilot.ipynb"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "PASS  ex1_roundtrip" in proc.stdout and "All visible tests pass." in proc.stdout


def test_check_reports_an_edited_test_cell(released, tmp_path):
    nb = nbformat.read(str(released / "00_pilot" / "pilot.ipynb"), as_version=4)
    solution = solution_cell(nb, "ex1_roundtrip")
    solution.source = 'def roundtrip(data):\n    return data'
    test = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "ex1_roundtrip_test")
    test.source = "pass"
    path = tmp_path / "pilot.ipynb"
    nbformat.write(nb, str(path))
    proc = run("check", str(path))
    assert proc.returncode == 1
    assert "EDITED ex1_roundtrip_test" in proc.stdout


@pytest.mark.parametrize("content,expected", [
    (None, "no such notebook"),
    ("{not json", "not a valid notebook"),
])
def test_check_bad_input_is_one_line_error(tmp_path, content, expected):
    path = tmp_path / "x.ipynb"
    if content is not None:
        path.write_text(content)
    proc = run("check", str(path))
    assert proc.returncode == 2
    assert expected in proc.stderr and proc.stderr.strip().count("\n") == 0


@pytest.mark.parametrize("no_fork", ["", "1"], ids=["forked-workers", "worker-commands"])
def test_grade_a_small_class(released, tmp_path, no_fork):
    """The same class graded by forked workers and by worker commands (the path taken where there is no fork)."""
    subs = tmp_path / "subs"
    for student, source in [("alice", PILOT / "00_pilot" / "pilot.ipynb"),
                            ("bob", released / "00_pilot" / "pilot.ipynb")]:
        (subs / student / "00_pilot").mkdir(parents=True)
        shutil.copyfile(source, subs / student / "00_pilot" / "pilot.ipynb")
    nb = nbformat.read(str(PILOT / "00_pilot" / "pilot.ipynb"), as_version=4)
    solution = solution_cell(nb, "ex1_roundtrip")
    solution.source = (WRONG / "ex1_roundtrip__single_recv.py").read_text()
    (subs / "carol" / "00_pilot").mkdir(parents=True)
    nbformat.write(nb, str(subs / "carol" / "00_pilot" / "pilot.ipynb"))
    (subs / "dave" / "00_pilot").mkdir(parents=True)
    (subs / "dave" / "00_pilot" / "pilot.ipynb").write_text("{ this is not a notebook")
    solution.source = "def roundtrip(data):\n    return data)"  # a typo
    (subs / "frank" / "00_pilot").mkdir(parents=True)
    nbformat.write(nb, str(subs / "frank" / "00_pilot" / "pilot.ipynb"))
    (subs / "erin" / "99_unknown").mkdir(parents=True)
    (subs / "erin" / "99_unknown" / "x.ipynb").write_text("{}")
    before = sorted((p.relative_to(subs), p.read_bytes()) for p in subs.rglob("*") if p.is_file())

    out = tmp_path / "out"
    proc = run("grade", str(subs), "--out", str(out), "-j", "2", SOCKET_COURSE_NO_FORK=no_fork)
    assert proc.returncode == 2, proc.stderr  # two submissions could not be graded
    rows = {(r["student"], r["assignment"]): r for r in csv.DictReader((out / "grades.csv").open())}
    assert rows[("alice", "00_pilot")]["score"] == "3" and rows[("alice", "00_pilot")]["max_score"] == "3"
    assert rows[("bob", "00_pilot")]["score"] == "0"
    assert rows[("carol", "00_pilot")]["score"] == "1"  # visible test passes, hidden 1 MiB test fails
    assert rows[("dave", "00_pilot")]["status"] == "error"
    assert "not valid JSON" in rows[("dave", "00_pilot")]["problems"]
    assert rows[("erin", "99_unknown")]["status"] == "error"
    frank = rows[("frank", "00_pilot")]
    assert (frank["status"], frank["score"]) == ("graded", "0") and "ex1_roundtrip: SyntaxError" in frank["problems"]
    assert "NOT GRADED dave/00_pilot" in proc.stderr

    html = (out / "feedback" / "carol" / "00_pilot" / "pilot.html").read_text()
    assert "hidden tests ran here" in html
    assert "1 MiB payload came back" in html  # the failure message reaches the learner
    assert "bytes(range(256))" not in html  # the hidden test's source does not
    assert (out / "gradebook.db").exists()
    after = sorted((p.relative_to(subs), p.read_bytes()) for p in subs.rglob("*") if p.is_file())
    assert before == after, "grading modified the submissions folder"


def test_grade_missing_folder_is_one_line_error(tmp_path):
    proc = run("grade", str(tmp_path / "nothing"), "--out", str(tmp_path / "out"))
    assert proc.returncode == 2
    assert "submissions folder not found" in proc.stderr and proc.stderr.strip().count("\n") == 0


def test_lab_dry_run_is_loopback_only(tmp_path):
    proc = run("lab", "--dir", str(tmp_path / "student"), "--dry-run")
    assert proc.returncode == 0, proc.stderr
    assert "--ip=127.0.0.1" in proc.stdout
    assert (tmp_path / "student" / "00_pilot" / "pilot.ipynb").exists()
