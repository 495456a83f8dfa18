"""The learner's self-check: run a notebook and say, exercise by exercise, what passes.

Built on nbgrader's Validator (the engine behind `nbgrader validate`), which runs the notebook the way
autograde does; unlike `nbgrader validate`, the result decides the exit status.
"""
from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from .cells import exercises, grade_id, is_graded
from .course import CourseError, load_config

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


@dataclass
class CellVerdict:
    grade_id: str
    score: float
    max_score: float
    hidden: bool = False  # a release's hidden-test cell: empty until grading
    error: str = ""

    @property
    def passed(self) -> bool:
        return self.hidden or self.score >= self.max_score


@dataclass
class CheckReport:
    notebook: Path
    exercises: dict[str, list[CellVerdict]] = field(default_factory=dict)
    changed: list[str] = field(default_factory=list)  # test cells the learner edited

    @property
    def passed(self) -> bool:
        return not self.changed and all(v.passed for vs in self.exercises.values() for v in vs)

    def render(self) -> str:
        lines = [f"Checking {self.notebook.name}"]
        visible = [v for vs in self.exercises.values() for v in vs if not v.hidden]
        for exercise, verdicts in self.exercises.items():
            shown = [v for v in verdicts if not v.hidden]
            ok = all(v.passed for v in shown)
            points = sum(v.score for v in shown), sum(v.max_score for v in shown)
            label = exercise or "(tests before the first exercise)"
            lines.append(f"  {'PASS' if ok else 'FAIL'}  {label:<34} {points[0]:g}/{points[1]:g}")
            for v in shown:
                if not v.passed:
                    lines.append(f"        {v.grade_id}: " + v.error.replace("\n", "\n        "))
        for gid in self.changed:
            lines.append(f"  EDITED {gid}: this test cell was changed; grading restores the original, so "
                         "undo your edit to see the real result")
        hidden = sum(1 for vs in self.exercises.values() for v in vs if v.hidden)
        got = sum(v.score for v in visible)
        total = sum(v.max_score for v in visible)
        lines.append(f"Visible tests: {got:g}/{total:g} points"
                     + (f"; {hidden} hidden test cell(s) run only when your work is graded" if hidden else ""))
        lines.append("All visible tests pass." if self.passed else "Some tests fail: fix the exercises marked FAIL.")
        return "\n".join(lines)


def _only_comments(source: str) -> bool:
    return all(not line.strip() or line.strip().startswith("#") for line in source.splitlines())


def _error_text(cell) -> str:
    """The failure as the notebook shows it: course_lib's clean block (the exchange in text form), or
    for any other error its last line."""
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            shown = ANSI.sub("", "\n".join(out.get("traceback") or [])).strip("\n")
            if shown and "Traceback (most recent call last)" not in shown:
                return shown
            if out.get("ename") == "NotImplementedError":
                return "not written yet: the function still raises NotImplementedError"
            evalue = ANSI.sub("", out.get("evalue", "")).strip()
            return f"{out.get('ename')}: {evalue}" if evalue else f"{out.get('ename')} (no message)"
    return "failed"


def check(path: Path, timeout: int | None = None) -> CheckReport:
    """Run the notebook at `path` and report every graded cell's result, grouped by exercise."""
    from nbgrader import utils
    from nbgrader.validator import Validator

    path = Path(path)
    if not path.is_file():
        raise CourseError(f"no such notebook: {path}")
    try:
        nbformat.validate(nbformat.read(str(path), as_version=4))
    except Exception as exc:
        why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CourseError(f"{path} is not a valid notebook: {why}") from None

    with tempfile.TemporaryDirectory() as tmp:
        config = load_config(Path(tmp))
    if timeout:
        config.Execute.timeout = timeout
    validator = Validator(config=config)
    with utils.chdir(str(path.parent.resolve())):
        nb = nbformat.read(path.name, as_version=nbformat.NO_CONVERT)
        if validator._get_type_changed_cells(nb):
            changed_types = [grade_id(c) or "?" for c in validator._get_type_changed_cells(nb)]
            report = CheckReport(path)
            report.changed = changed_types
            return report
        nb = validator._preprocess(nb)
    report = CheckReport(path)
    report.changed = [grade_id(c) or "?" for c in validator._get_changed_cells(nb) if is_graded(c)]
    by_id = {grade_id(c): c for c in nb.cells if is_graded(c)}
    for exercise, cell_ids in exercises(nb).items():
        verdicts = []
        for gid in cell_ids:
            cell = by_id[gid]
            score, max_score = utils.determine_grade(cell, validator.log)
            verdict = CellVerdict(gid, float(score or 0), float(max_score or 0),
                                  hidden=_only_comments(cell.source))
            if not verdict.passed:
                verdict.error = _error_text(cell)
            verdicts.append(verdict)
        report.exercises[exercise] = verdicts
    return report
