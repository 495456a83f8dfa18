"""Autograde a folder of submissions with nbgrader and write grades.csv and feedback.

SUBMISSIONS holds `<student>/<assignment>/<notebook>.ipynb`. The submissions folder is only read: each
submission is copied into a scratch nbgrader course under OUT/work, autograded there with nbgrader's own
autograde (test cells restored from the source, hidden tests put back), and its scores read back from the
gradebook (OUT/gradebook.db).
"""
from __future__ import annotations

import csv
import re
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import nbformat

from .course import Assignment, CourseError, assignments, failure_reason, make_api
from .release import generate

STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@+-]*$")


@dataclass(frozen=True)
class Submission:
    """One student's work on one assignment."""

    student: str
    assignment: str
    folder: Path


@dataclass
class Result:
    """What grading one submission gave: the score, each graded cell, and any problem found."""

    student: str
    assignment: str
    score: float = 0.0
    max_score: float = 0.0
    cells: dict[str, tuple[float, float]] = field(default_factory=dict)  # grade_id -> (score, max)
    problems: list[str] = field(default_factory=list)

    @property
    def graded(self) -> bool:
        return not self.problems


def discover(submissions: Path) -> list[Submission]:
    """Every `<student>/<assignment>/` folder holding notebooks, in a stable order."""
    if not submissions.is_dir():
        raise CourseError(f"submissions folder not found: {submissions}")
    found = []
    for student_dir in sorted(p for p in submissions.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for assignment_dir in sorted(p for p in student_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
            found.append(Submission(student_dir.name, assignment_dir.name, assignment_dir))
    if not found:
        raise CourseError(f"no submissions in {submissions}: expected <student>/<assignment>/<notebook>.ipynb")
    return found


def _readable(path: Path) -> str | None:
    """None if the notebook can be graded, else why not (in one line)."""
    try:
        nb = nbformat.read(str(path), as_version=4)
    except Exception as exc:  # invalid JSON, unknown version, unreadable file
        return f"{path.name} is not a readable notebook ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})"
    try:
        nbformat.validate(nb)
    except nbformat.ValidationError as exc:
        return f"{path.name} is not a valid notebook ({exc.message})"
    return None


def read_result(api, student: str, assignment: str, result: Result) -> Result:
    """Fill `result` with the scores nbgrader's autograde stored in the gradebook."""
    with api.gradebook as gb:
        sub = gb.find_submission(assignment, student)
        result.score, result.max_score = float(sub.score), float(sub.max_score)
        for nb in sub.notebooks:
            for grade in nb.grades:
                key = grade.name if len(sub.notebooks) == 1 else f"{nb.name}:{grade.name}"
                result.cells[key] = (float(grade.score), float(grade.max_score))
    return result


def max_score(api, assignment: str) -> float:
    with api.gradebook as gb:
        return float(gb.find_assignment(assignment).max_score)


def grade_one(api, sub: Submission, assignment: Assignment, feedback_out: Path | None) -> Result:
    """Autograde one submission already known to belong to `assignment`."""
    result = Result(sub.student, sub.assignment, max_score=max_score(api, sub.assignment))
    if not STUDENT_ID.match(sub.student):
        result.problems.append(f"student folder name {sub.student!r} is not a usable id")
        return result
    present = {p.name for p in sub.folder.glob("*.ipynb")}
    expected = {p.name for p in assignment.notebooks}
    for missing in sorted(expected - present):
        result.problems.append(f"{missing} is missing")
    for name in sorted(expected & present):
        problem = _readable(sub.folder / name)
        if problem:
            result.problems.append(problem)
    if result.problems:
        return result

    dest = Path(api.coursedir.format_path(api.coursedir.submitted_directory, sub.student, sub.assignment))
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    for name in sorted(expected):
        shutil.copyfile(sub.folder / name, dest / name)
    outcome = api.autograde(sub.assignment, sub.student)
    if not outcome.get("success"):
        result.problems.append(f"autograde failed: {failure_reason(outcome)}")
        return result
    read_result(api, sub.student, sub.assignment, result)
    if feedback_out is not None:
        write_feedback(api, sub, feedback_out, result)
    return result


def write_feedback(api, sub: Submission, feedback_out: Path, result: Result) -> None:
    outcome = api.generate_feedback(sub.assignment, sub.student)
    if not outcome.get("success"):
        result.problems.append("feedback could not be generated")
        return
    src = Path(api.coursedir.format_path(api.coursedir.feedback_directory, sub.student, sub.assignment))
    dest = feedback_out / sub.student / sub.assignment
    dest.mkdir(parents=True, exist_ok=True)
    for html in src.glob("*.html"):
        shutil.copyfile(html, dest / html.name)


def grade(
    submissions: Path,
    out: Path,
    feedback: bool = True,
    source: Path | None = None,
    progress: Callable[[Result, int, int], None] | None = None,
) -> list[Result]:
    """Grade every submission under `submissions`; write OUT/grades.csv and OUT/feedback/."""
    submissions = submissions.resolve()
    out = out.resolve()
    if out == submissions or submissions in out.parents:
        raise CourseError("--out must not be inside the submissions folder (the submissions are never modified)")
    subs = discover(submissions)
    known = assignments(source)
    work = out / "work"
    if work.exists():
        shutil.rmtree(work)
    gradebook = work / "gradebook.db"
    api = make_api(work, source)
    generated: set[str] = set()
    results: list[Result] = []
    for index, sub in enumerate(subs, 1):
        if sub.assignment not in known:
            result = Result(sub.student, sub.assignment)
            result.problems.append(f"unknown assignment {sub.assignment!r}")
        else:
            if sub.assignment not in generated:
                generate(api, known[sub.assignment])
                generated.add(sub.assignment)
            result = grade_one(api, sub, known[sub.assignment], out / "feedback" if feedback else None)
        results.append(result)
        if progress:
            progress(result, index, len(subs))
    write_grades_csv(out / "grades.csv", results)
    shutil.copyfile(gradebook, out / "gradebook.db")
    return results


def write_grades_csv(path: Path, results: Iterable[Result]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["student", "assignment", "score", "max_score", "status", "problems"])
        for r in results:
            writer.writerow([r.student, r.assignment, f"{r.score:g}", f"{r.max_score:g}",
                             "graded" if r.graded else "error", "; ".join(r.problems)])


def print_progress(result: Result, index: int, total: int) -> None:
    status = f"{result.score:g}/{result.max_score:g}" if result.graded else "ERROR: " + "; ".join(result.problems)
    print(f"[{index}/{total}] {result.student} {result.assignment}: {status}", file=sys.stderr, flush=True)
