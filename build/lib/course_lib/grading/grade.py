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

from .cells import grade_id, is_graded, nbgrader_meta
from .integrity import inspect_submission
from .course import Assignment, CourseError, assignments, make_api
from .procs import Task, run_all
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
    problems: list[str] = field(default_factory=list)  # why it could not be graded
    flags: list[str] = field(default_factory=list)  # graded, but the instructor should look

    @property
    def graded(self) -> bool:
        return not self.problems

    @property
    def status(self) -> str:
        return "error" if self.problems else "flagged" if self.flags else "graded"


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


def graded_cells(source_nb: Path) -> list[tuple[str, str, float]]:
    """(notebook name, grade_id, points) of every graded cell, from the trusted source notebook."""
    nb = nbformat.read(str(source_nb), as_version=4)
    return [(source_nb.stem, grade_id(c), float(nbgrader_meta(c).get("points", 0)))
            for c in nb.cells if is_graded(c)]


def score_autograded(path: Path, cells: list[tuple[str, str, float]]) -> tuple[dict, list[str]]:
    """Per-cell (score, max) read from an autograded notebook, with points from the source.

    The verdict for a cell is nbgrader's own rule (utils.determine_grade): an error or anything on stderr
    scores 0. A graded cell missing from the notebook scores 0 and is reported.
    """
    from nbgrader import utils

    nb = nbformat.read(str(path), as_version=4)
    found = {grade_id(c): c for c in nb.cells if is_graded(c)}
    scores, problems = {}, []
    for _, gid, points in cells:
        cell = found.get(gid)
        if cell is None:
            scores[gid] = (0.0, points)
            problems.append(f"graded cell {gid} is missing from the submission")
            continue
        cell.metadata.nbgrader["points"] = points
        score, _ = utils.determine_grade(cell)
        scores[gid] = (float(score or 0.0), points)
    return scores, problems


def record(db_url: str, result: Result, notebook: str) -> None:
    """Write one result into the gradebook: only the parent process ever writes it."""
    import warnings

    from nbgrader.api import Gradebook, MissingEntry
    from sqlalchemy.exc import SAWarning

    with warnings.catch_warnings(), Gradebook(db_url) as gb:
        warnings.simplefilter("ignore", SAWarning)  # nbgrader's own session chatter
        gb.update_or_create_student(result.student)
        try:
            gb.remove_submission(result.assignment, result.student)
        except MissingEntry:
            pass
        gb.add_submission(result.assignment, result.student)
        for gid, (score, _) in result.cells.items():
            grade = gb.find_grade(gid, notebook, result.assignment, result.student)
            grade.auto_score = score
            grade.needs_manual_grade = False
        gb.db.commit()


@dataclass
class Job:
    """One submission prepared for a worker: its private course root and what it is graded against."""

    sub: Submission
    assignment: Assignment
    root: Path
    cells: list[tuple[str, str, float]]
    flags: list[str] = field(default_factory=list)
    tampering: list[str] = field(default_factory=list)


def prepare(sub: Submission, assignment: Assignment, jobs_dir: Path, template_db: Path) -> Job | Result:
    """Check a submission and copy it into a private course root; a Result if it cannot be graded."""
    cells = graded_cells(assignment.notebooks[0])
    result = Result(sub.student, sub.assignment, max_score=sum(p for _, _, p in cells))
    if not STUDENT_ID.match(sub.student):
        result.problems.append(f"student folder name {sub.student!r} is not a usable id")
    present = {p.name for p in sub.folder.glob("*.ipynb")}
    expected = {p.name for p in assignment.notebooks}
    for missing in sorted(expected - present):
        result.problems.append(f"{missing} is missing")
    for name in sorted(expected & present):
        problem = _readable(sub.folder / name)
        if problem:
            result.problems.append(problem)
    if result.problems:
        result.cells = {gid: (0.0, p) for _, gid, p in cells}
        return result
    root = jobs_dir / f"{sub.student}__{sub.assignment}"
    if root.exists():
        shutil.rmtree(root)
    dest = root / "submitted" / sub.student / sub.assignment
    dest.mkdir(parents=True)
    for name in sorted(expected):
        shutil.copyfile(sub.folder / name, dest / name)
    shutil.copyfile(template_db, root / "gradebook.db")
    source = assignment.notebooks[0]
    structural, tampering = inspect_submission(nbformat.read(str(sub.folder / source.name), as_version=4),
                                               nbformat.read(str(source), as_version=4))
    return Job(sub, assignment, root, cells, structural, tampering)


def score_job(job: Job, report: dict) -> Result:
    """Turn a worker's report and the autograded notebook it left into a Result."""
    sub = job.sub
    result = Result(sub.student, sub.assignment, max_score=sum(p for _, _, p in job.cells))
    if report.get("error"):
        result.problems.append(report["error"])
    notebook = job.assignment.notebooks[0]
    autograded = job.root / "autograded" / sub.student / sub.assignment / notebook.name
    if report.get("ok") and autograded.exists():
        result.cells, problems = score_autograded(autograded, job.cells)
        result.problems.extend(problems)
    else:
        result.cells = {gid: (0.0, p) for _, gid, p in job.cells}
        if not result.problems:
            result.problems.append("the grader produced no autograded notebook")
    result.flags = job.flags + job.tampering
    if job.tampering:  # no test result from a kernel the submission reached into can be trusted
        result.cells = {gid: (0.0, p) for _, gid, p in job.cells}
    result.score = sum(s for s, _ in result.cells.values())
    return result


def task_for(job: Job, feedback: bool, source: Path | None, sandbox: bool, cell_timeout: int | None) -> Task:
    """The work for one job, as a function (forked child) and as a command (where there is no fork)."""
    from .worker import grade_in_process

    sub = job.sub
    argv = [sys.executable, "-m", "course_lib.grading.worker", str(job.root), sub.assignment, sub.student]
    argv += ["--feedback"] if feedback else []
    argv += ["--source", str(source)] if source else []
    argv += ["--sandbox"] if sandbox else []
    argv += ["--cell-timeout", str(cell_timeout)] if cell_timeout else []
    return Task(key=job, argv=argv, run=lambda: grade_in_process(job.root, sub.assignment, sub.student, feedback,
                                                                 source, sandbox, cell_timeout))


def grade(
    submissions: Path,
    out: Path,
    feedback: bool = True,
    source: Path | None = None,
    jobs: int = 1,
    wall_budget: float = 60.0,
    progress: Callable[[Result, int, int], None] | None = None,
    sandbox: bool | None = None,
    cell_timeout: int | None = None,
) -> list[Result]:
    """Grade every submission under `submissions` with `jobs` workers; write OUT/grades.csv, feedback.

    sandbox: True requires bubblewrap, False never uses it, None (default) uses it where it works.
    cell_timeout: seconds per cell (default: grading/nbgrader_config.py's Execute.timeout).
    """
    from .sandbox import bwrap_path, unavailable_reason

    if sandbox is None:
        sandbox = bwrap_path() is not None
    elif sandbox and bwrap_path() is None:
        raise CourseError(f"cannot sandbox: {unavailable_reason()}")
    submissions = submissions.resolve()
    out = out.resolve()
    if out == submissions or submissions in out.parents:
        raise CourseError("--out must not be inside the submissions folder (the submissions are never modified)")
    subs = discover(submissions)
    known = assignments(source)
    work = out / "work"
    if work.exists():
        shutil.rmtree(work)
    api = make_api(work, source)
    for name in sorted({s.assignment for s in subs if s.assignment in known}):
        generate(api, known[name])
    db_url = api.coursedir.db_url
    template = work / "template.db"
    shutil.copyfile(work / "gradebook.db", template)

    results: list[Result] = []
    pending: list[Job] = []
    for sub in subs:
        if sub.assignment not in known:
            bad = Result(sub.student, sub.assignment)
            bad.problems.append(f"unknown assignment {sub.assignment!r}")
            results.append(bad)
            continue
        prepared = prepare(sub, known[sub.assignment], work / "jobs", template)
        (pending if isinstance(prepared, Job) else results).append(prepared)
    done = 0

    def finish(result: Result, job: Job | None) -> None:
        nonlocal done
        done += 1
        if result.assignment in known and result.cells:
            record(db_url, result, known[result.assignment].notebooks[0].stem)
        if job is not None and feedback:
            fb = job.root / "feedback" / result.student / result.assignment
            if fb.is_dir():
                dest = out / "feedback" / result.student / result.assignment
                dest.mkdir(parents=True, exist_ok=True)
                for html in fb.glob("*.html"):
                    shutil.copyfile(html, dest / html.name)
        if progress:
            progress(result, done, len(subs))

    for r in results:
        finish(r, None)
    def done_job(job: Job, report: dict) -> None:
        result = score_job(job, report)
        results.append(result)
        finish(result, job)

    run_all([task_for(job, feedback, source, sandbox, cell_timeout) for job in pending], jobs, wall_budget, done_job)
    order = {(s.student, s.assignment): i for i, s in enumerate(subs)}
    results.sort(key=lambda r: order[(r.student, r.assignment)])
    write_grades_csv(out / "grades.csv", results)
    write_canvas_csv(out / "canvas.csv", results)
    shutil.copyfile(work / "gradebook.db", out / "gradebook.db")
    return results


def write_grades_csv(path: Path, results: Iterable[Result]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["student", "assignment", "score", "max_score", "status", "problems"])
        for r in results:
            writer.writerow([r.student, r.assignment, f"{r.score:g}", f"{r.max_score:g}", r.status,
                             "; ".join(r.problems + r.flags)])


def write_canvas_csv(path: Path, results: Iterable[Result]) -> None:
    """Canvas's gradebook-import layout: one row per student, one column per assignment.

    Canvas matches rows on "SIS Login ID" (the student's folder name here); the second row gives each
    column's points possible. Moodle's "Import grades from CSV" accepts the same file, mapping the
    "SIS Login ID" column to the username.
    """
    results = list(results)
    names = sorted({r.assignment for r in results if r.max_score > 0})
    possible = {a: max(r.max_score for r in results if r.assignment == a) for a in names}
    students = sorted({r.student for r in results})
    score = {(r.student, r.assignment): r.score for r in results}
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section", *names])
        writer.writerow(["Points Possible", "", "", "", "", *(f"{possible[a]:g}" for a in names)])
        for student in students:
            writer.writerow([student, "", "", student, "",
                             *(f"{score[(student, a)]:g}" if (student, a) in score else "" for a in names)])


def print_progress(result: Result, index: int, total: int) -> None:
    status = f"{result.score:g}/{result.max_score:g}" if result.graded else "ERROR: " + "; ".join(result.problems)
    if result.flags:
        status += " FLAGGED: " + "; ".join(result.flags)
    print(f"[{index}/{total}] {result.student} {result.assignment}: {status}", file=sys.stderr, flush=True)
