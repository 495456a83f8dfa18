"""The grading pipeline on assignments of several notebooks: graded whole, recorded whole."""
from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import nbformat
import pytest

from course_lib.grading.cells import solution_cell
from course_lib.grading.grade import grade

PILOT = Path(__file__).parent / "fixtures" / "pilot_course" / "00_pilot" / "pilot.ipynb"


@pytest.fixture(scope="module")
def two_notebook_course(tmp_path_factory):
    course = tmp_path_factory.mktemp("course")
    folder = course / "00_pair"
    folder.mkdir()
    shutil.copyfile(PILOT, folder / "first.ipynb")
    shutil.copyfile(PILOT, folder / "second.ipynb")
    return course


def test_an_assignment_of_two_notebooks_is_graded_whole(two_notebook_course, tmp_path):
    subs = tmp_path / "subs"
    for student in ("alice", "bob", "carol"):
        (subs / student / "00_pair").mkdir(parents=True)
    for name in ("first.ipynb", "second.ipynb"):
        shutil.copyfile(two_notebook_course / "00_pair" / name, subs / "alice" / "00_pair" / name)
    wrong = nbformat.read(str(PILOT), as_version=4)
    solution_cell(wrong, "ex1_roundtrip").source = "def roundtrip(data):\n    return b''"
    shutil.copyfile(two_notebook_course / "00_pair" / "first.ipynb", subs / "bob" / "00_pair" / "first.ipynb")
    nbformat.write(wrong, str(subs / "bob" / "00_pair" / "second.ipynb"))
    shutil.copyfile(two_notebook_course / "00_pair" / "first.ipynb", subs / "carol" / "00_pair" / "first.ipynb")

    results = {r.student: r for r in grade(subs, tmp_path / "out", source=two_notebook_course, jobs=2)}
    alice, bob, carol = results["alice"], results["bob"], results["carol"]
    assert (alice.score, alice.max_score, alice.status) == (6, 6, "graded")
    assert set(alice.cells) == {f"{nb}/{gid}" for nb in ("first", "second")
                                for gid in ("ex1_roundtrip_test", "ex1_roundtrip_hidden")}
    assert (bob.score, bob.max_score) == (3, 6) and bob.cells["second/ex1_roundtrip_test"] == (0, 1)
    assert carol.status == "error" and "second.ipynb is missing" in carol.problems[0] and carol.score == 0
    for name in ("first", "second"):
        assert (tmp_path / "out" / "feedback" / "alice" / "00_pair" / f"{name}.html").exists()
    with sqlite3.connect(tmp_path / "out" / "gradebook.db") as db:
        stored = db.execute(
            "SELECT submitted_notebook.notebook_id, SUM(grade.auto_score) FROM grade "
            "JOIN submitted_notebook ON grade.notebook_id = submitted_notebook.id "
            "JOIN submitted_assignment ON submitted_notebook.assignment_id = submitted_assignment.id "
            "WHERE submitted_assignment.student_id = 'bob' GROUP BY submitted_notebook.notebook_id").fetchall()
    assert len(stored) == 2 and sorted(score for _, score in stored) == [0, 3]


def test_feedback_shows_the_notebooks_diagrams_as_pictures(tmp_path):
    """Mermaid blocks reach feedback as pre-rendered pictures, after the sanitiser, not as raw text."""
    from course_lib.grading.course import assignments
    from course_lib.grading.diagrams import blocks

    [source] = assignments()["01_creation"].notebooks
    codes = [b for c in nbformat.read(str(source), as_version=4).cells if c.cell_type == "markdown"
             for b in blocks(c.source)]
    expected = len(codes)
    dest = tmp_path / "subs" / "alice" / "01_creation"
    dest.mkdir(parents=True)
    shutil.copyfile(source, dest / source.name)
    [result] = grade(tmp_path / "subs", tmp_path / "out", jobs=1)
    assert result.score == result.max_score
    page = (tmp_path / "out" / "feedback" / "alice" / "01_creation" / "creation.html").read_text()
    assert expected > 0 and page.count('src="data:image/svg+xml;base64,') >= expected
    assert not [code for code in codes if code.strip().splitlines()[0] in page], "a diagram is shown as text"
