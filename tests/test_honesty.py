"""The honesty harness: every graded cell of every notebook can fail, and fails when it should.

Parameterised over every assignment under notebooks/, so a new section is covered the day it lands.
For each assignment, one grading run (the real `socket-course grade` pipeline, i.e. nbgrader autograde)
scores three kinds of submission:

- the blank release (what a learner starts from): every graded cell must score 0;
- the reference (the source notebook with its solutions): every graded cell must score full marks;
- each registered wrong answer, tests/wrong_answers/<assignment>/<grade_id>__<mistake>.py, which replaces
  one solution cell of the reference: its exercise must score less than full, and every graded cell must
  fail under at least one wrong answer of its exercise. An exercise with no wrong answer fails the suite;
- each correct answer in another style, tests/correct_answers/<assignment>/<grade_id>__<style>.py: its
  exercise must score full marks (no false negatives).

The k-th wrong answer (and the k-th correct style) of every exercise share one submission, so grading
costs one notebook per index, not one per answer (section 04: 11 notebooks instead of 59). Packed
together, a leaky wrong answer could make a later exercise fail for a reason of its own; so every wrong
answer is also run alone, beside the reference solutions of the other exercises, in a child forked
from one warm process per notebook (benchmarks/mutants.py's worker, which runs every test cell as
nbgrader does: a cell fails when it raises, writes to stderr or overruns the cell timeout). A wrong
answer loses points only if it does in the grading run *and* alone; a cell is caught by a wrong answer
only if it fails in both. The reference must pass every cell alone too, or the alone run proves nothing.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

import answers as catalogue
from answers import Answer
from course_lib.grading.cells import exercises, grade_id, is_graded, is_solution, solution_cell
from course_lib.grading.course import assignments, make_api
from course_lib.grading.grade import grade
from course_lib.grading.release import generate

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).resolve().parents[1]
ALONE = REPO / "benchmarks" / "mutants.py"
ASSIGNMENTS = assignments()


def correct_answers(assignment: str) -> list[Answer]:
    """tests/correct_answers/<assignment>/<grade_id>__<style>.py: right answers in other styles."""
    return catalogue.correct_answers(assignment)


def wrong_answers(assignment: str, folder: Path | None = None) -> list[Answer]:
    """tests/wrong_answers/<assignment>/<grade_id>__<mistake>.py (or a self-test course's folder)."""
    return catalogue.wrong_answers(assignment, folder=folder)


def correct_submissions(assignment: str) -> dict[str, list[Answer]]:
    """Student name -> the correct answers it carries: the k-th style of every exercise in one notebook.

    A correct answer can only raise its own exercise's cells, so packing them together hides nothing.
    """
    return packs(correct_answers(assignment), "correct")


def packs(answers: list[Answer], prefix: str) -> dict[str, list[Answer]]:
    """Student name -> the answers it carries: the k-th answer of every exercise in one notebook."""
    by_exercise: dict[str, list[Answer]] = {}
    for answer in answers:
        by_exercise.setdefault(answer.grade_id, []).append(answer)
    rounds = max((len(v) for v in by_exercise.values()), default=0)
    return {f"{prefix}-{k + 1}": [v[k] for v in by_exercise.values() if k < len(v)] for k in range(rounds)}


def cell_timeout() -> float:
    """nbgrader's per-cell timeout in the course's configuration (a cell that overruns it fails)."""
    m = re.search(r"^c\.Execute\.timeout\s*=\s*([0-9.]+)", (REPO / "grading" / "nbgrader_config.py").read_text(), re.M)
    return float(m[1]) if m else 30.0


def notebook(assignment: str, known=None) -> Path:
    nbs = (known or ASSIGNMENTS)[assignment].notebooks
    assert len(nbs) == 1, f"{assignment}: the harness expects one notebook per assignment"
    return nbs[0]


def release_text(nb: nbformat.NotebookNode) -> str:
    return "\n".join(cell.source for cell in nb.cells)


class Runs:
    """Grades the blank, reference, correct and wrong-answer submissions of the assignments once per session.

    All the assignments the session's tests ask for are graded in one grading run (one set-up, one pool of
    workers kept busy across sections), while one process runs every wrong answer alone beside it.
    """

    def __init__(self, tmp_path_factory, source: Path | None = None, wrong: Path | None = None,
                 wanted: set[str] | None = None):
        self.tmp = tmp_path_factory
        self.source = source
        self.known = assignments(source) if source else ASSIGNMENTS
        self.wrong = wrong  # a folder of fixtures for a single-assignment test course
        self.wanted = sorted(wanted or self.known)
        self.cache: dict[str, dict | Exception] = {}

    def get(self, assignment: str) -> dict:
        if assignment not in self.cache:
            todo = [a for a in self.wanted if a not in self.cache] or [assignment]
            if assignment not in todo:
                todo.append(assignment)
            try:
                self.cache.update(self._run(todo))
            except Exception as exc:  # grade once: every test of these assignments reports the same failure
                self.cache.update({a: exc for a in todo})
        found = self.cache[assignment]
        if isinstance(found, Exception):
            raise found
        return found

    def _run(self, todo: list[str]) -> dict[str, dict]:
        base = self.tmp.mktemp("honesty")
        api = make_api(base / "release-course", self.source)
        subs = base / "submissions"
        released, packed = {}, {}
        for assignment in todo:
            source = notebook(assignment, self.known)
            released[assignment] = generate(api, self.known[assignment]) / source.name

            def put(student: str, nb: nbformat.NotebookNode, assignment=assignment, source=source):
                dest = subs / student / assignment / source.name
                dest.parent.mkdir(parents=True)
                nbformat.write(nb, str(dest))

            put("blank", nbformat.read(str(released[assignment]), as_version=4))
            put("reference", nbformat.read(str(source), as_version=4))
            packed[assignment] = packs(wrong_answers(assignment, self.wrong), "wrong")
            correct = {} if self.wrong is not None else correct_submissions(assignment)  # none in a self-test
            for student, answers in {**packed[assignment], **correct}.items():
                nb = nbformat.read(str(source), as_version=4)
                for answer in answers:
                    solution_cell(nb, answer.grade_id).source = answer.source.rstrip("\n")
                put(student, nb)
        # meanwhile, every wrong answer alone, in children forked from one warm process per notebook
        cmd = [sys.executable, str(ALONE), "--cell-timeout", str(cell_timeout()), "--json", str(base / "alone.json"),
               "--notebooks", "2", "-j", "2",
               *(str(notebook(a, self.known)) for a in todo)]
        if self.wrong is not None:
            cmd += ["--answers-in", str(self.wrong)]
        with open(base / "alone.log", "wb") as log:
            alone = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=REPO, start_new_session=True)
            try:
                results = grade(subs, base / "out", feedback=False, jobs=os.cpu_count() or 1, source=self.source)
                alone.wait(timeout=1800)
            finally:
                if alone.poll() is None:
                    os.killpg(alone.pid, 9)
                    alone.wait()
        assert alone.returncode == 0, f"the alone run failed: {(base / 'alone.log').read_text()[-3000:]}"
        reports = {Path(r["notebook"]).parent.name: r for r in json.loads((base / "alone.json").read_text())}
        for r in results:
            assert r.graded, f"{r.assignment}/{r.student}: could not be graded: {r.problems}"
            assert not r.flags, f"{r.assignment}/{r.student}: flagged by the integrity scan: {r.flags}"
        runs = {}
        for assignment in todo:
            report = reports[assignment]
            assert not report.get("error"), f"{assignment}: the alone run failed: {report['error']}"
            runs[assignment] = {
                "released": nbformat.read(str(released[assignment]), as_version=4),
                "results": {r.student: r for r in results if r.assignment == assignment},
                "pack": {a.key: student for student, answers in packed[assignment].items() for a in answers},
                "alone": {f"{ex['grade_id']}__{r['id'].split(':', 1)[1]}": r
                          for ex in report["exercises"] for r in [ex["reference"], *ex["wrong"]]},
            }
        return runs


@pytest.fixture(scope="session")
def runs(tmp_path_factory, request):
    """Grades, in one run, every assignment that the selected tests of this file ask for."""
    here = Path(__file__)
    wanted = {item.callspec.params["assignment"] for item in request.session.items
              if Path(str(item.fspath)) == here and "assignment" in getattr(getattr(item, "callspec", None),
                                                                             "params", {})}
    return Runs(tmp_path_factory, wanted=wanted)


ASSIGNMENT_IDS = sorted(ASSIGNMENTS)
WRONG_IDS = [(a, w) for a in ASSIGNMENT_IDS for w in wrong_answers(a)]


def test_course_has_assignments():
    assert ASSIGNMENT_IDS, "no notebooks found under notebooks/"


@pytest.mark.parametrize("assignment", ASSIGNMENT_IDS)
def test_metadata_is_valid(assignment):
    """nbgrader's own metadata check accepts the notebook, and grade_ids follow CONTRIBUTING.md."""
    from nbgrader.preprocessors import CheckCellMetadata

    nb = nbformat.read(str(notebook(assignment)), as_version=4)
    nbformat.validate(nb)
    CheckCellMetadata().preprocess(nb, {})
    owners = exercises(nb)
    assert "" not in owners, "graded cells above the first solution cell belong to no exercise"
    for solution, cells in owners.items():
        assert cells, f"exercise {solution} has no graded test cell"
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not cell.get("outputs"), "commit notebooks with outputs cleared"


@pytest.mark.parametrize("assignment", ASSIGNMENT_IDS)
def test_release_hides_solutions_and_hidden_tests(assignment, runs):
    released = runs.get(assignment)["released"]
    text = release_text(released)
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"):
        assert marker not in text, f"the release still contains {marker!r}"
    source = nbformat.read(str(notebook(assignment)), as_version=4)
    secret_lines, open_lines = set(), set()
    for cell in source.cells:
        inside = False
        for line in cell.source.splitlines():
            if "### BEGIN SOLUTION" in line or "### BEGIN HIDDEN TESTS" in line:
                inside = True
            elif "### END SOLUTION" in line or "### END HIDDEN TESTS" in line:
                inside = False
            elif inside and len(line.strip()) > 20 and not line.strip().startswith("#"):
                secret_lines.add(line.strip())
            elif not inside:
                open_lines.add(line.strip())
    public = {line.strip() for cell in released.cells for line in cell.source.splitlines()}
    # A secret line may equal a line that is public anyway (an example, a visible test); it may not
    # appear in the release only thanks to the solution or hidden test it came from.
    leaked = sorted((secret_lines & public) - open_lines)
    assert not leaked, f"solution or hidden-test lines leaked into the release: {leaked[:5]}"


def passing_on_blank(run: dict) -> dict:
    return {gid: s for gid, s in run["results"]["blank"].cells.items() if s[0] > 0}


def fails(run: dict, wrong: Answer, gid: str) -> bool:
    """The wrong answer fails cell `gid`: in the grading run (packed with others) and alone."""
    score, most = run["results"][run["pack"][wrong.key]].cells[gid]
    return score < most and gid in run["alone"][wrong.key].get("failed", ())


def uncaught_cells(nb: nbformat.NotebookNode, registered: list[Answer], run: dict) -> list[str]:
    """Graded cells that no wrong answer of their exercise makes fail."""
    uncaught = []
    for exercise, cells in exercises(nb).items():
        mine = [w for w in registered if w.grade_id == exercise]
        assert mine, f"exercise {exercise} has no registered wrong answer"
        uncaught += [gid for gid in cells if not any(fails(run, w, gid) for w in mine)]
    return uncaught


@pytest.mark.parametrize("assignment", ASSIGNMENT_IDS)
def test_blank_release_scores_zero(assignment, runs):
    passing = passing_on_blank(runs.get(assignment))
    assert not passing, f"graded cells that pass on the blank release (tests that cannot fail): {passing}"
    assert runs.get(assignment)["results"]["blank"].max_score > 0


@pytest.mark.parametrize("assignment", ASSIGNMENT_IDS)
def test_reference_scores_full_marks(assignment, runs):
    result = runs.get(assignment)["results"]["reference"]
    short = {gid: s for gid, s in result.cells.items() if s[0] < s[1]}
    assert not short, f"the reference solution loses points on: {short}"
    assert result.score == result.max_score > 0
    alone = {key: r["why"] for key, r in runs.get(assignment)["alone"].items() if key.endswith("__reference")
             and r["killed"]}
    assert not alone, f"the reference fails in the alone run (so that run proves nothing): {alone}"


@pytest.mark.parametrize("assignment,wrong", WRONG_IDS,
                         ids=[f"{a}-{w.grade_id}__{w.mistake}" for a, w in WRONG_IDS])
def test_wrong_answer_loses_points(assignment, wrong, runs):
    nb = nbformat.read(str(notebook(assignment)), as_version=4)
    owners = exercises(nb)
    assert wrong.grade_id in owners, f"{wrong.path.name}: no solution cell {wrong.grade_id!r} in {assignment}"
    run = runs.get(assignment)
    result = run["results"][run["pack"][wrong.key]]
    cells = {gid: result.cells[gid] for gid in owners[wrong.grade_id]}
    got, total = sum(s for s, _ in cells.values()), sum(m for _, m in cells.values())
    assert got < total, f"{wrong.path.name} scores full marks ({got:g}/{total:g}) on {sorted(cells)}"
    alone = run["alone"][wrong.key]
    assert alone["killed"], f"{wrong.path.name} passes every test cell of {wrong.grade_id} when run alone"
    assert any(fails(run, wrong, gid) for gid in cells), (
        f"{wrong.path.name} loses points on {sorted(g for g, s in cells.items() if s[0] < s[1])} graded beside "
        f"other wrong answers, but alone it fails {alone.get('failed')}: no cell fails in both")


@pytest.mark.parametrize("assignment", [a for a in ASSIGNMENT_IDS if correct_answers(a)])
def test_correct_answers_score_full_marks(assignment, runs):
    """No false negatives: right answers in other styles (tests/correct_answers/) score full."""
    nb = nbformat.read(str(notebook(assignment)), as_version=4)
    owners = exercises(nb)
    results = runs.get(assignment)["results"]
    lost = []
    for student, answers in correct_submissions(assignment).items():
        for answer in answers:
            assert answer.grade_id in owners, f"{answer.path.name}: no solution cell {answer.grade_id!r}"
            cells = {gid: results[student].cells[gid] for gid in owners[answer.grade_id]}
            lost += [f"{answer.path.name}: {gid} {s[0]:g}/{s[1]:g}" for gid, s in cells.items() if s[0] < s[1]]
    assert not lost, "correct answers that lose points (false negatives): " + "; ".join(lost)


@pytest.mark.parametrize("assignment", ASSIGNMENT_IDS)
def test_correct_answer_files_name_the_style(assignment):
    for answer in correct_answers(assignment):
        first = answer.path.read_text().splitlines()[0]
        assert first.startswith("#"), f"{answer.path.name}: the first line must be a comment naming the style"


@pytest.mark.parametrize("assignment", ASSIGNMENT_IDS)
def test_every_graded_cell_is_caught_by_a_wrong_answer(assignment, runs):
    nb = nbformat.read(str(notebook(assignment)), as_version=4)
    uncaught = uncaught_cells(nb, wrong_answers(assignment), runs.get(assignment))
    assert not uncaught, f"graded cells that no registered wrong answer makes fail: {uncaught}"


@pytest.mark.parametrize("assignment", ASSIGNMENT_IDS)
def test_wrong_answer_files_name_real_exercises(assignment):
    nb = nbformat.read(str(notebook(assignment)), as_version=4)
    solutions = {grade_id(c) for c in nb.cells if is_solution(c) and not is_graded(c)}
    for wrong in wrong_answers(assignment):
        assert wrong.grade_id in solutions, f"{wrong.path.name}: {assignment} has no solution cell {wrong.grade_id!r}"
        first = wrong.path.read_text().splitlines()[0]
        assert first.startswith("#"), f"{wrong.path.name}: the first line must be a comment naming the mistake"


def test_harness_catches_a_test_that_cannot_fail(tmp_path, tmp_path_factory):
    """Self-test: add a vacuous graded cell to the pilot course; the harness's checks must flag it."""
    pilot = FIXTURES / "pilot_course"
    course = tmp_path / "course"
    shutil.copytree(pilot, course)
    path = course / "00_pilot" / "pilot.ipynb"
    nb = nbformat.read(str(path), as_version=4)
    vacuous = nbformat.v4.new_code_cell(
        "assert True  # a test that cannot fail",
        metadata={"nbgrader": {"grade": True, "solution": False, "locked": True, "task": False, "points": 1,
                               "grade_id": "ex1_roundtrip_vacuous", "schema_version": 3}})
    nb.cells.append(vacuous)
    nbformat.write(nb, str(path))
    run = Runs(tmp_path_factory, source=course, wrong=FIXTURES / "pilot_wrong_answers").get("00_pilot")
    assert "ex1_roundtrip_vacuous" in passing_on_blank(run)
    registered = wrong_answers("00_pilot", FIXTURES / "pilot_wrong_answers")
    assert uncaught_cells(nb, registered, run) == ["ex1_roundtrip_vacuous"]
    # and the honest cells are fine: the pilot's own tests are caught and fail on the blank release
    assert set(passing_on_blank(run)) == {"ex1_roundtrip_vacuous"}


# --- mutation testing ------------------------------------------------------------------------------
# In this file, not a file of its own: pytest-xdist (`make test`, --dist loadfile) runs a file's tests in
# one worker, so the two heaviest runs of the suite (the grading runs above, and the forked mutants below)
# never compete for the same cores.
#
# Mutation testing in CI: the tests must kill the mutants of every reference solution.
#
# benchmarks/mutants.py mutates each solution region (a statement deleted, send for sendall, a constant
# off by one, an except broadened, ...) and runs the exercise's visible and hidden tests against each
# mutant. The goal (issue 11): at least 95 % of the non-equivalent mutants killed in every section and
# 90 % of all mutants; every correct answer in tests/correct_answers/ passes (no false negatives).
# Equivalent mutants are listed, with a reason each, in tests/mutants_equivalent.json.

MUTANTS = REPO / "benchmarks" / "mutants.py"


def test_equivalent_list_is_well_formed():
    entries = json.loads((REPO / "tests" / "mutants_equivalent.json").read_text())
    for key, reason in entries.items():
        section, _, rest = key.partition("/")
        assert (REPO / "notebooks" / section).is_dir(), f"{key}: no section {section}"
        assert rest.count(":") == 2, f"{key}: expected <section>/<grade_id>:<operator>:<hash>"
        assert isinstance(reason, str) and len(reason) > 20, f"{key}: give a one-line reason"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="the mutation runner forks one child per mutant")
@pytest.mark.timeout(900)
def test_tests_kill_the_mutants():
    run = subprocess.run([sys.executable, str(MUTANTS), "--check"], check=False, cwd=REPO, capture_output=True,
                         text=True, timeout=850)
    assert run.returncode == 0, (
        f"mutation goal not met (or a correct answer failed):\n{run.stdout[-6000:]}\n{run.stderr[-2000:]}")
