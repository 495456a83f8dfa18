"""Autograde a folder of submissions with nbgrader and write grades.csv and feedback.

SUBMISSIONS holds `<student>/<assignment>/<notebook>.ipynb`. The submissions folder is only read, and
only through intake.py (links refused, sizes bounded). Each submission is graded by a worker process
(worker.py) within a wall budget, in a private nbgrader course root under OUT/work/jobs: the worker reads
the notebooks, autogrades them with the kernel sandboxed, decides the scores and renders feedback. The
parent only records what the worker decided into the class gradebook (OUT/gradebook.db) and writes the
reports. Every per-submission step in the parent is guarded: a submission that cannot be graded becomes
an error row, and grades.csv is written however the run ends.
"""
from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import stat
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import nbformat

from .cells import grade_id, is_graded, nbgrader_meta
from .course import Assignment, CourseError, assignments, make_api
from .export import write_canvas_csv, write_grades_csv
from .intake import Found, discover
from .procs import Task, interruptible, run_all, use_fork
from .release import generate
from .sandbox import clean_after, sweep_stale
from .warm import warm_up
from .worker import grade_job, job_spec

MAX_FEEDBACK = 8 * 1024**2  # bytes of one feedback file copied to OUT (CapOutputs keeps it far smaller)


@dataclass
class Result:
    """What grading one submission gave: the score, each graded cell, and any problem found."""

    student: str
    assignment: str
    max_score: float = 0.0
    rows: list[tuple[str, str, float, float]] = field(default_factory=list)  # (notebook, grade_id, score, max)
    problems: list[str] = field(default_factory=list)  # why it could not be graded
    flags: list[str] = field(default_factory=list)  # graded, but the instructor should look
    notes: list[str] = field(default_factory=list)  # graded; worth knowing (a SyntaxError in an answer)
    timings: dict[str, float] = field(default_factory=dict)  # seconds per phase of the worker (benchmarks)

    @property
    def score(self) -> float:
        return sum(s for _, _, s, _ in self.rows)

    @property
    def cells(self) -> dict[str, tuple[float, float]]:
        """grade_id -> (score, max); `notebook/grade_id` when the assignment has several notebooks."""
        several = len({nb for nb, _, _, _ in self.rows}) > 1
        return {(f"{nb}/{gid}" if several else gid): (s, m) for nb, gid, s, m in self.rows}

    @property
    def graded(self) -> bool:
        return not self.problems

    @property
    def status(self) -> str:
        return "error" if self.problems else "flagged" if self.flags else "graded"


@functools.lru_cache(maxsize=None)
def graded_cells(assignment: Assignment) -> list[tuple[str, str, float]]:
    """(notebook, grade_id, points) of every graded cell of the assignment, from the trusted sources."""
    found = []
    for source in assignment.notebooks:
        nb = nbformat.read(str(source), as_version=4)
        found += [(source.stem, grade_id(c) or "", float(nbgrader_meta(c).get("points", 0)))
                  for c in nb.cells if is_graded(c)]
    return found


def failed(found: Found, problem: str, assignment: Assignment | None) -> Result:
    """A row for a submission that could not be graded: every cell scores 0."""
    cells = graded_cells(assignment) if assignment else []
    return Result(found.student, found.assignment, max_score=sum(p for _, _, p in cells),
                  rows=[(nb, gid, 0.0, p) for nb, gid, p in cells], problems=[problem])


@contextlib.contextmanager
def _quiet_gradebook(db_url: str):
    import warnings

    from nbgrader.api import Gradebook
    from sqlalchemy.exc import SAWarning

    with warnings.catch_warnings(), Gradebook(db_url) as gb:
        warnings.simplefilter("ignore", SAWarning)  # nbgrader's own session chatter
        yield gb


def record(db_url: str, result: Result) -> None:
    """Write one decided result into the class gradebook: only the parent process ever writes it."""
    from nbgrader.api import MissingEntry

    with _quiet_gradebook(db_url) as gb:
        gb.update_or_create_student(result.student)
        try:
            gb.remove_submission(result.assignment, result.student)
        except MissingEntry:
            pass
        gb.add_submission(result.assignment, result.student)
        for notebook, gid, score, _ in result.rows:
            grade = gb.find_grade(gid, notebook, result.assignment, result.student)
            grade.auto_score = score
            grade.needs_manual_grade = False
        gb.db.commit()


@dataclass
class Job:
    """One submission prepared for a worker: its private course root and what it is graded against."""

    found: Found
    assignment: Assignment
    root: Path
    spec: dict


def result_of(job: Job, report: dict) -> Result:
    """A worker's report as a Result; a report with no scores (a crash, an overrun) gives an error row."""
    if not report.get("cells"):
        problems = report.get("problems") or [report.get("error") or "the grader produced no scores"]
        result = failed(job.found, "; ".join(problems), job.assignment)
        result.flags = list(report.get("flags", []))
        result.timings = dict(report.get("timings", {}))
        return result
    expected = {(nb, gid): p for nb, gid, p in graded_cells(job.assignment)}
    rows = [(nb, gid, float(s), expected[(nb, gid)]) for nb, gid, s, _ in report["cells"] if (nb, gid) in expected]
    return Result(job.found.student, job.found.assignment, max_score=sum(expected.values()), rows=rows,
                  problems=list(report.get("problems", [])), flags=list(report.get("flags", [])),
                  notes=list(report.get("notes", [])), timings=dict(report.get("timings", {})))


def task_for(job: Job) -> Task:
    """The work for one job, as a function (forked child) and as a command (where there is no fork)."""
    spec_file = job.root / "job.json"
    spec_file.write_text(json.dumps(job.spec))
    return Task(key=job, argv=[sys.executable, "-m", "course_lib.grading.worker", str(spec_file)],
                run=lambda: grade_job(job.spec), after=clean_after if job.spec["sandbox"] else None)


def _copy_feedback(job: Job, out: Path) -> None:
    """Copy the worker's feedback pages to OUT/feedback/<student>/<assignment>/, regular files only."""
    folder = job.root / "feedback" / job.found.student / job.found.assignment
    if not folder.is_dir():
        return
    dest = out / "feedback" / job.found.student / job.found.assignment
    for source in job.assignment.notebooks:
        page = folder / (source.stem + ".html")
        try:
            st = os.lstat(page)
        except FileNotFoundError:
            continue
        if stat.S_ISREG(st.st_mode) and st.st_size <= MAX_FEEDBACK:
            dest.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(page, dest / page.name, follow_symlinks=False)


def default_jobs() -> int:
    """Submissions graded at once by default: one more than the cores.

    Why: a notebook's cells spend part of their time waiting (on sockets, on deadlines that must expire),
    so one kernel per core leaves a core idle about half the time. Measured on 2 cores, 35 reference
    submissions, sandbox, feedback and judge on (benchmarks/grading.py): -j 2 took 50.9 s, -j 3 37.3 s,
    -j 4 35.0 s with the cells' own time up by half (0.69 s against 0.43 s a notebook): one more is where
    the gain is, with the checks' deadlines far from reach.
    """
    import os

    return (os.cpu_count() or 1) + 1


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
    judge: bool = True,
    stats: dict[str, float] | None = None,
    ahead: int | None = None,
) -> list[Result]:
    """Grade every submission under `submissions` with `jobs` workers; write OUT/grades.csv, feedback.

    sandbox: True requires bubblewrap, False never uses it, None (default) uses it where it works.
    cell_timeout: seconds per cell (default: grading/nbgrader_config.py's Execute.timeout).
    judge: also judge every graded cell outside the kernel (course_lib.judge); False for benchmarks only.
    stats: filled with the parent's own seconds (benchmarks): "prepare" (discovering, generating the
    assignments, the jobs' folders), "warm" (warm.py), "run" (the workers), "finish" (the reports), and
    the parent's CPU seconds in each ("run_cpu": recording results, forking and reaping workers).
    ahead: workers started early, beyond `jobs`, whose kernels start while others run cells (default:
    `jobs` when sandboxed, where the gate works; else none).
    """
    import time

    clock = [time.perf_counter(), time.process_time()]

    def lap(phase: str) -> None:
        now = [time.perf_counter(), time.process_time()]
        if stats is not None:
            stats[phase] = stats.get(phase, 0.0) + now[0] - clock[0]
            stats[phase + "_cpu"] = stats.get(phase + "_cpu", 0.0) + now[1] - clock[1]
        clock[:] = now

    from .sandbox import bwrap_path, unavailable_reason

    if sandbox is None:
        sandbox = bwrap_path() is not None
    elif sandbox and bwrap_path() is None:
        raise CourseError(f"cannot sandbox: {unavailable_reason()}")
    submissions, out = Path(submissions).resolve(), Path(out).resolve()
    if out == submissions or submissions in out.parents:
        raise CourseError("--out must not be inside the submissions folder (the submissions are never modified)")
    if not submissions.is_dir():
        raise CourseError(f"submissions folder not found: {submissions}")
    found = discover(submissions)
    if not found:
        raise CourseError(f"no submissions in {submissions}: expected <student>/<assignment>/<notebook>.ipynb")
    known = assignments(source)
    work = out / "work"
    if work.exists():
        shutil.rmtree(work)
    results: list[Result] = []
    done = 0
    db_url = None

    def finish(result: Result, job: Job | None = None) -> None:
        nonlocal done
        done += 1
        try:
            if db_url and job is not None:
                record(db_url, result)
            if job is not None and feedback:
                _copy_feedback(job, out)
        except Exception as exc:  # one submission's bookkeeping never stops the others
            result.problems.append(f"recording the result failed: {type(exc).__name__}")
        results.append(result)
        if progress:
            progress(result, done, len(found))

    try:
        api = make_api(work, source)
        for name in sorted({f.assignment for f in found if f.assignment in known}):
            generate(api, known[name])
        db_url = api.coursedir.db_url
        template = work / "template.db"  # the assignments' source cells and nothing of any student
        with _quiet_gradebook(db_url):
            pass  # creates the gradebook even when no submission names a known assignment
        shutil.copyfile(work / "gradebook.db", template)
        pending: list[Job] = []
        for index, item in enumerate(found):
            assignment = known.get(item.assignment)
            try:
                if item.problem:
                    finish(failed(item, item.problem, assignment))
                elif assignment is None:
                    finish(failed(item, f"unknown assignment {item.assignment!r}", None))
                else:
                    root = work / "jobs" / f"{index:04d}"
                    root.mkdir(parents=True)
                    shutil.copyfile(template, root / "gradebook.db")
                    spec = job_spec(root, item.student, item.assignment, item.folder, list(assignment.notebooks),
                                    source, feedback, sandbox, cell_timeout, judge, submissions)
                    pending.append(Job(item, assignment, root, spec))
            except Exception as exc:
                finish(failed(item, f"could not be prepared ({type(exc).__name__})", assignment))

        def done_job(job: Job, report: dict) -> None:
            try:
                result = result_of(job, report)
            except Exception as exc:
                result = failed(job.found, f"its report could not be read ({type(exc).__name__})", job.assignment)
            finish(result, job)

        lap("prepare")
        if pending and use_fork():  # forked workers inherit what the parent has loaded
            warm_up(sorted({nb for job in pending for nb in job.assignment.notebooks}), feedback)
        lap("warm")
        # sandboxed, the next submissions start their kernels while `jobs` others run cells (procs._Gate)
        if ahead is None or not sandbox:
            ahead = jobs if sandbox else 0
        if sandbox:
            sweep_stale()  # what graders killed outright (SIGKILL, a power cut) left behind
        with interruptible():
            run_all([task_for(job) for job in pending], jobs, wall_budget, done_job, ahead=ahead)
        lap("run")
    finally:
        graded = {(r.student, r.assignment) for r in results}
        for item in found:  # a run that stopped early still accounts for every submission
            if (item.student, item.assignment) not in graded:
                results.append(failed(item, "not graded: the run stopped before it", known.get(item.assignment)))
        order = {(f.student, f.assignment): i for i, f in enumerate(found)}
        results.sort(key=lambda r: order.get((r.student, r.assignment), len(order)))
        write_grades_csv(out / "grades.csv", results)
        write_canvas_csv(out / "canvas.csv", results)
        if (work / "gradebook.db").exists():
            shutil.copyfile(work / "gradebook.db", out / "gradebook.db")
        lap("finish")
    return results
