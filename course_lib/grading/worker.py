"""Grade one submission in a process of its own, within the budget the parent enforces.

    python -m course_lib.grading.worker JOB.json

Everything that grows with a submission happens here, not in the parent: reading the submitted
notebooks (bounded, links refused: intake.py), the static scan, nbgrader's autograde with the kernel in
its sandbox, deciding the scores, and rendering feedback from the decided scores. The score of each
graded cell is computed once, by nbgrader's SaveAutoGrades, into the job's own gradebook; this process
then decides (a submission that reaches into the grader gets no credit), writes the decision back, and
only then renders feedback, so the feedback shows the same scores grades.csv does. The report, one JSON
line, carries the decided scores to the parent, which records them.

Beside the notebook's own tests, a judge outside the kernel (course_lib/judge) runs every graded cell of
the source notebook against the learner's functions: a cell scores only if both pass it. A cell the
notebook passes and the judge fails is flagged; a judge that could not finish scores the cells it did not
judge 0 and flags "not judged"; cells only the kernel can judge (course_lib/judge/kernel_only.py) keep the
notebook's verdict and are noted.
"""
from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

from .cells import grade_id, is_graded, is_solution

MAX_NOTE = 160  # characters of a learner's error message quoted in a report


def _line(text: str) -> str:
    clean = "".join(ch if ch.isprintable() else " " for ch in str(text)).strip()
    return clean if len(clean) <= MAX_NOTE else clean[: MAX_NOTE - 1] + "…"


def job_spec(root: Path, student: str, assignment: str, folder: Path, notebooks: list[Path],
             source: Path | None, feedback: bool, sandbox: bool, cell_timeout: int | None, judge: bool = True,
             submissions: Path | None = None) -> dict:
    """What one worker needs to know, as plain data (it is also written to JOB.json where there is no fork).
    `submissions`: the class's folder `folder` is in (the notebooks are read from it without following
    a link on the way down)."""
    return {"root": str(root), "student": student, "assignment": assignment, "folder": str(folder),
            "notebooks": [str(p) for p in notebooks], "source": str(source) if source else None,
            "feedback": feedback, "sandbox": sandbox, "cell_timeout": cell_timeout, "judge": judge,
            "submissions": str(submissions) if submissions else None}


def _intake(job: dict, report: dict) -> dict:
    """Read every expected notebook of the submission into the job's submitted folder."""
    import nbformat

    from .intake import Unreadable, read_notebook
    from .integrity import inspect_submission

    root, folder = Path(job["root"]), Path(job["folder"])
    dest = root / "submitted" / job["student"] / job["assignment"]
    dest.mkdir(parents=True, exist_ok=True)
    read = {}
    for source in map(Path, job["notebooks"]):
        try:
            nb = read_notebook(folder / source.name, under=Path(job["submissions"]) if job.get("submissions") else None)
        except Unreadable as exc:
            report["problems"].append(str(exc))
            continue
        nbformat.write(nb, str(dest / source.name))
        read[source] = nb
    for source, nb in read.items():
        try:
            structural, tampering = inspect_submission(nb, nbformat.read(str(source), as_version=4))
        except (RecursionError, MemoryError, ValueError):
            structural, tampering = [], ["its code is nested too deeply to be checked"]
        report["flags"] += structural + tampering
        report["tampering"] = report.get("tampering", False) or bool(tampering)
    return read


def _judged(score: float, gid: str, verdicts: dict | None, judging: dict) -> float:
    """The decided score of one cell: the notebook's score if the judge passed it (or left it to the kernel)."""
    if verdicts is None:  # grading without the judge (--no-judge)
        return score
    verdict = verdicts["cells"].get(gid)
    if verdict is None:
        judging["unjudged"].append(gid)
        return 0.0
    passed, reason = verdict
    if passed is None:
        judging["kernel"].append(gid)
        return score
    if not passed:
        if score > 0:
            judging["flags"].append(f"{gid}: the notebook's own test passed, the judge failed it: {_line(reason)}")
        return 0.0
    if score == 0:
        judging["notes"].append(gid)
    return score


def _decide(job: dict, api, report: dict, judge=None) -> None:
    """Read nbgrader's scores from the job's gradebook, decide, and write the decision back."""
    import nbformat
    from nbgrader.api import Gradebook, MissingEntry

    root = Path(job["root"])
    void = report.get("tampering", False)
    with Gradebook(api.coursedir.db_url) as gb:
        for source in map(Path, job["notebooks"]):
            verdicts = None
            judging: dict = {"unjudged": [], "kernel": [], "flags": [], "notes": []}
            if judge is not None:
                verdicts = judge.verdicts.get(source.stem) or {"cells": {}, "error": "the judge did not run"}
            autograded = root / "autograded" / job["student"] / job["assignment"] / source.name
            present = set()
            if autograded.is_file():
                nb = nbformat.read(str(autograded), as_version=4)
                present = {grade_id(c) for c in nb.cells if is_graded(c)}
                report["notes"] += _syntax_errors(nb)
            for cell in nbformat.read(str(source), as_version=4).cells:
                if not is_graded(cell):
                    continue
                gid = grade_id(cell)
                try:
                    grade = gb.find_grade(gid, source.stem, job["assignment"], job["student"])
                except MissingEntry:
                    report["problems"].append(f"{source.stem}: no grade recorded for {gid}")
                    continue
                score = 0.0 if void or gid not in present else _judged(float(grade.auto_score or 0.0), gid or "",
                                                                       verdicts, judging)
                grade.auto_score = score
                grade.needs_manual_grade = False
                report["cells"].append([source.stem, gid, score, float(grade.max_score)])
            _report_judging(source.stem, verdicts, judging, report)
        gb.db.commit()


def _report_judging(notebook: str, verdicts: dict | None, judging: dict, report: dict) -> None:
    report["flags"] += judging["flags"]
    if judging["unjudged"]:
        reason = (verdicts or {}).get("error") or "no verdict"
        report["flags"].append(f"{notebook}: not judged: {_line(reason)} ({len(judging['unjudged'])} cell(s) "
                               f"scored 0: {', '.join(judging['unjudged'])})")
    changed = (verdicts or {}).get("changed")
    if changed:
        report["flags"].append(f"{notebook}: the kernel's own copy of course_lib or of Python's modules was changed "
                               f"({', '.join(changed[:5])}{', ...' if len(changed) > 5 else ''}): the judge's "
                               f"verdicts from outside stand, but what only the kernel reports (see grading/README.md) "
                               f"may have been shaped; review the submission")
    if judging["kernel"]:
        report["notes"].append(f"{notebook}: judged in the kernel only: {', '.join(judging['kernel'])}")
    if judging["notes"]:
        report["notes"].append(f"{notebook}: the judge passed what the notebook's own test failed "
                               f"(scored 0): {', '.join(judging['notes'])}")


def _syntax_errors(nb) -> list[str]:
    """A note for each solution cell whose code did not even parse (its tests fail with NameError)."""
    notes = []
    for cell in nb.cells:
        if cell.cell_type != "code" or not is_solution(cell) or is_graded(cell):
            continue
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error" and out.get("ename") in {"SyntaxError", "IndentationError",
                                                                           "TabError"}:
                notes.append(f"{grade_id(cell)}: {out['ename']} in the learner's code: {_line(out.get('evalue', ''))}")
    return notes


def _cell_times(job: dict) -> tuple[float, float]:
    """(seconds from the kernel's start to the first cell, seconds the cells themselves ran) of a job."""
    import nbformat
    from dateutil.parser import isoparse

    first, cells = None, 0.0
    for source in map(Path, job["notebooks"]):
        path = Path(job["root"]) / "autograded" / job["student"] / job["assignment"] / source.name
        if not path.is_file():
            continue
        for cell in nbformat.read(str(path), as_version=4).cells:
            stamps = cell.get("metadata", {}).get("execution", {})
            if "iopub.execute_input" in stamps and "shell.execute_reply" in stamps:
                start = isoparse(stamps["iopub.execute_input"]).timestamp()
                first = start if first is None else min(first, start)
                cells += isoparse(stamps["shell.execute_reply"]).timestamp() - start
    return (first or 0.0), cells


def grade_job(job: dict) -> dict:
    """Autograde one submission and render its feedback; a report, never an exception.

    The report's "timings" say where the time went, in seconds: reading and scanning the submission,
    making the jail, nbgrader's autograde split into its own bookkeeping, the kernel's start and the
    cells' own run time, deciding the scores, and rendering feedback.
    """
    import time

    warnings.filterwarnings("ignore")  # nbgrader's SQLAlchemy chatter is not the learner's business
    from traitlets.config import Config

    from .course import failure_reason, make_api

    report: dict = {"cells": [], "problems": [], "flags": [], "notes": [], "tampering": False, "timings": {}}
    timings = report["timings"]
    jail = None
    judge = None
    clock = time.perf_counter()

    def lap(phase: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[phase] = timings.get(phase, 0.0) + now - clock
        clock = now

    try:
        ok = _intake(job, report) and not report["problems"]
        lap("intake")
        if not ok:
            return report
        extra = Config()
        if job["sandbox"]:
            from .sandbox import Jail

            jail = Jail.create(Path(job["root"]) / "autograded" / job["student"] / job["assignment"])
            extra = jail.config()
        if job["cell_timeout"]:
            extra.Execute.timeout = job["cell_timeout"]
        # nbconvert validates the notebook after each of autograde's seven steps; once, after the last, will do
        extra.Exporter.optimistic_validation = True
        if job.get("judge", True):
            from ..judge import supported

            if supported():
                judge = _setup_judge(job, jail, extra)
            else:
                report["notes"].append(f"judged in the kernel only: this platform ({sys.platform}) cannot pass "
                                       "sockets to a judge outside it")
        api = make_api(Path(job["root"]), Path(job["source"]) if job["source"] else None, extra)
        if judge is not None:
            judge.cell_timeout = float(api.config.Execute.get("timeout", 15) or 15)
        lap("setup")
        started = time.time()
        outcome = api.autograde(job["assignment"], job["student"])
        lap("autograde")
        if judge is not None:  # the judge ran inside autograde, after the notebook's cells
            timings["judge"] = sum(v["seconds"] for v in judge.verdicts.values())
            timings["autograde"] -= timings["judge"]
        first, timings["cells"] = _cell_times(job)
        timings["kernel_start"] = max(0.0, first - started) if first else 0.0
        if not outcome.get("success"):
            report["problems"].append("autograde failed: " + failure_reason(outcome))
            return report
        _decide(job, api, report, judge)
        lap("decide")
        if job["feedback"]:
            fb = api.generate_feedback(job["assignment"], job["student"])
            lap("feedback")
            if not fb.get("success"):
                report["notes"].append("feedback could not be generated: " + failure_reason(fb))
    except Exception as exc:  # a broken submission must become a report, not a crash
        report["problems"].append(f"the grader failed: {type(exc).__name__}: {_line(str(exc))}")
    finally:
        if judge is not None:
            from ..judge.execute import configure

            configure(None)
            if jail is None:
                import shutil

                shutil.rmtree(judge.folder, ignore_errors=True)
        if jail is not None:
            jail.close()
            lap("cleanup")
    return report


def _setup_judge(job: dict, jail, extra):
    """Autograde with nbgrader's Execute step followed by the judge (course_lib.judge.execute)."""
    import os
    import tempfile

    from nbgrader.preprocessors import Execute

    from ..judge.execute import JudgedExecute, Settings, configure

    folder = jail.judge_dir if jail is not None else Path(
        tempfile.mkdtemp(prefix=f"sc-{os.getpid()}-judge-", dir="/tmp"))
    settings = Settings(sources={Path(n).stem: Path(n) for n in job["notebooks"]}, folder=folder,
                        uid=jail.uid if jail is not None else None, join=jail is not None,
                        section=job["assignment"])
    configure(settings)
    from nbgrader.converters.autograde import Autograde

    steps = Autograde().autograde_preprocessors
    extra.Autograde.autograde_preprocessors = [JudgedExecute if step is Execute else step for step in steps]
    return settings


def main(argv: list[str] | None = None) -> int:
    """The worker as a command, where there is no fork (Windows, or SOCKET_COURSE_NO_FORK=1)."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m course_lib.grading.worker JOB.json", file=sys.stderr)
        return 2
    from .procs import as_worker, end_worker

    as_worker()
    job = json.loads(Path(args[0]).read_text())
    report = grade_job(job)
    end_worker()
    print(json.dumps(report), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
