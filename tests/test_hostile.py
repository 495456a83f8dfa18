"""A class of hostile submissions, graded beside a clean one that must keep full marks.

Each submission replaces the pilot notebook's solution cell with a file from tests/fixtures/hostile/
(or tampers with the notebook's structure), and the whole class is graded in one run of the real
pipeline, two at a time, with a short cell timeout and wall budget so the suite stays quick.
"""
from __future__ import annotations

import csv
import json
import sqlite3
import time
from pathlib import Path

import nbformat
import psutil
import pytest

from course_lib.grading.cells import solution_cell
from course_lib.grading.grade import grade
from course_lib.grading.sandbox import bwrap_path

HERE = Path(__file__).parent
PILOT = HERE / "fixtures" / "pilot_course"
HOSTILE = HERE / "fixtures" / "hostile"
REPO = HERE.parent
NOTEBOOK = PILOT / "00_pilot" / "pilot.ipynb"
BUDGET = 25.0
CELL_TIMEOUT = 4


def with_solution(source: str) -> nbformat.NotebookNode:
    nb = nbformat.read(str(NOTEBOOK), as_version=4)
    cell = solution_cell(nb, "ex1_roundtrip")
    cell.source = source
    return nb


def structural() -> dict[str, nbformat.NotebookNode]:
    cases = {}
    nb = nbformat.read(str(NOTEBOOK), as_version=4)
    nb.cells = [c for c in nb.cells if not c.metadata.get("nbgrader", {}).get("grade")]
    cases["deletes_tests"] = nb
    nb = with_solution("def roundtrip(data):\n    return b''")
    for c in nb.cells:
        if c.metadata.get("nbgrader", {}).get("grade"):
            c.source = "pass  # edited by the learner"
    cases["edits_tests"] = nb
    nb = with_solution("def roundtrip(data):\n    return b''")
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "ex1_roundtrip_test")
    cell.cell_type = "markdown"
    for key in ("outputs", "execution_count"):
        cell.pop(key, None)
    cases["changes_cell_type"] = nb
    return cases


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    base = tmp_path_factory.mktemp("hostile")
    subs = base / "submissions"

    def put(student: str, nb: nbformat.NotebookNode | None = None, raw: str | None = None):
        dest = subs / student / "00_pilot" / "pilot.ipynb"
        dest.parent.mkdir(parents=True)
        if raw is not None:
            dest.write_text(raw)
        else:
            nbformat.write(nb, str(dest))

    put("clean", nbformat.read(str(NOTEBOOK), as_version=4))
    reference = solution_cell(nbformat.read(str(NOTEBOOK), as_version=4), "ex1_roundtrip").source
    for path in sorted(HOSTILE.glob("*.py")):  # @REFERENCE@ stands for the correct solution
        if path.stem == "snoops" and bwrap_path() is None:
            continue  # unsandboxed, its writes would land in the repository and the home folder
        put(path.stem, with_solution(path.read_text().replace("@REPO@", str(REPO)).replace("@REFERENCE@", reference)))
    for name, nb in structural().items():
        put(name, nb)
    put("invalid_json", raw="{ not a notebook")
    v3 = {"nbformat": 3, "nbformat_minor": 0, "metadata": {}, "worksheets": [{"cells": [
        {"cell_type": "code", "input": "print('old')", "language": "python", "outputs": [], "metadata": {}}]}]}
    put("old_nbformat", raw=json.dumps(v3))
    before = {p: p.read_bytes() for p in subs.rglob("*") if p.is_file()}
    out = base / "out"
    start = time.monotonic()
    results = grade(subs, out, feedback=True, source=PILOT, jobs=2, wall_budget=BUDGET, cell_timeout=CELL_TIMEOUT)
    elapsed = time.monotonic() - start
    return {"results": {r.student: r for r in results}, "out": out, "subs": subs, "before": before,
            "elapsed": elapsed, "count": len(results)}


def test_clean_submission_keeps_full_marks(graded):
    clean = graded["results"]["clean"]
    assert (clean.score, clean.max_score, clean.status) == (3, 3, "graded")


@pytest.mark.parametrize("student", ["infinite_loop", "ignores_interrupts", "blocking_accept", "asks_for_input",
                                     "kills_kernel", "memory_bomb", "swallows_errors", "patches_module",
                                     "obfuscated", "fake_equality", "floods_output", "deletes_tests", "edits_tests", "changes_cell_type",
                                     "invalid_json", "old_nbformat"])
def test_hostile_submission_earns_nothing(graded, student):
    result = graded["results"][student]
    assert result.score == 0, f"{student}: {result}"


@pytest.mark.parametrize("student,why", [
    ("swallows_errors", "get_ipython"), ("patches_module", "replaces part of an imported module"),
    ("obfuscated", "__subclasses__"), ("fake_equality", "defines __eq__"), ("kills_kernel", "os._exit"), ("deletes_tests", "was deleted"),
    ("changes_cell_type", "changed from code to markdown"),
])
def test_tampering_is_flagged_with_the_reason(graded, student, why):
    result = graded["results"][student]
    assert result.status in {"flagged", "error"}
    assert any(why in flag for flag in result.flags), result.flags


def test_unreadable_notebooks_get_a_clear_error_row(graded):
    rows = {r["student"]: r for r in csv.DictReader((graded["out"] / "grades.csv").open())}
    assert rows["invalid_json"]["status"] == "error" and "not a readable notebook" in rows["invalid_json"]["problems"]
    assert rows["invalid_json"]["score"] == "0"
    assert len(rows) == graded["count"]


def test_interrupt_ignoring_cell_ends_the_notebook(graded):
    result = graded["results"]["ignores_interrupts"]
    assert result.status == "error" and "could not be interrupted" in " ".join(result.problems)
    assert graded["results"]["kills_kernel"].status in {"error", "flagged"}
    # 18 submissions, two at a time; the slowest are bounded by the cell timeout and the budget
    assert graded["elapsed"] < 4 * BUDGET


def test_wall_budget_stops_a_notebook_and_everything_it_started(tmp_path):
    subs = tmp_path / "subs"
    dest = subs / "looper" / "00_pilot" / "pilot.ipynb"
    dest.parent.mkdir(parents=True)
    nbformat.write(with_solution("import subprocess\nsubprocess.Popen(['sleep', '309'])\nwhile True:\n    pass"),
                   str(dest))
    start = time.monotonic()
    [result] = grade(subs, tmp_path / "out", feedback=False, source=PILOT, jobs=1, wall_budget=6, cell_timeout=60)
    assert time.monotonic() - start < 6 + 15  # the budget, plus set-up and clean-up
    assert result.status == "error" and "budget" in " ".join(result.problems) and result.score == 0
    leftovers = [p.info for p in psutil.process_iter(["cmdline"]) if p.info["cmdline"] == ["sleep", "309"]]
    assert not leftovers


def test_nothing_is_left_running(graded):
    leftovers = [p.info for p in psutil.process_iter(["pid", "cmdline"])
                 if p.info["cmdline"] and p.info["cmdline"][:2] in (["sleep", "307"], ["sleep", "308"])]
    assert not leftovers, f"processes outlived grading: {leftovers}"
    assert graded["results"]["leaves_children"].score == 3  # its work was right; its processes are gone


def test_submissions_folder_is_untouched(graded):
    after = {p: p.read_bytes() for p in graded["subs"].rglob("*") if p.is_file()}
    assert after == graded["before"]


def test_gradebook_is_consistent_with_grades_csv(graded):
    rows = {r["student"]: float(r["score"]) for r in csv.DictReader((graded["out"] / "grades.csv").open())
            if r["status"] != "error"}
    with sqlite3.connect(graded["out"] / "gradebook.db") as db:
        stored = dict(db.execute(
            "SELECT student.id, SUM(COALESCE(grade.manual_score, grade.auto_score, 0)) FROM grade "
            "JOIN submitted_notebook ON grade.notebook_id = submitted_notebook.id "
            "JOIN submitted_assignment ON submitted_notebook.assignment_id = submitted_assignment.id "
            "JOIN student ON submitted_assignment.student_id = student.id GROUP BY student.id").fetchall())
    for student, score in rows.items():
        assert stored.get(student, 0) == score, student


@pytest.mark.skipif(bwrap_path() is None, reason="isolation needs bubblewrap on Linux")
def test_sandbox_hides_sources_and_protects_the_gradebook(graded):
    out = graded["out"]
    autograded = out / "work" / "jobs" / "snoops__00_pilot" / "autograded" / "snoops" / "00_pilot" / "pilot.ipynb"
    nb = nbformat.read(str(autograded), as_version=4)
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    attempts = json.loads(text.split("ATTEMPTS ", 1)[1].splitlines()[0])
    assert attempts["gradebook"] != "written"
    assert attempts["other_job"] != "written"
    assert attempts["repo_notebooks"] != "written"
    assert attempts["sources_seen"] == []
    assert graded["results"]["snoops"].score == 3
    assert graded["results"]["clean"].score == 3


def test_feedback_never_shows_hidden_tests(graded):
    for html in (graded["out"] / "feedback").rglob("*.html"):
        assert "bytes(range(256))" not in html.read_text(), html
