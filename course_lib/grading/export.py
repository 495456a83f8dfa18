"""What grading writes for people and other tools: grades.csv and Canvas's import layout.

Every cell is safe to open in a spreadsheet: no control characters, and text that a spreadsheet would
take for a formula (starting with = + - @ or a tab) is prefixed with an apostrophe.
"""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Iterable, Protocol

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class Row(Protocol):
    """What a report needs of a result (grade.Result)."""

    student: str
    assignment: str
    max_score: float
    problems: list[str]
    flags: list[str]
    notes: list[str]

    @property
    def score(self) -> float: ...

    @property
    def status(self) -> str: ...


def safe(value: object) -> str:
    """A CSV cell that no spreadsheet runs and no terminal interprets."""
    text = "".join(ch if ch.isprintable() else " " for ch in str(value))
    return "'" + text if text.startswith(FORMULA_START) else text


def write_grades_csv(path: Path, results: Iterable[Row]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["student", "assignment", "score", "max_score", "status", "problems"])
        for r in results:
            writer.writerow([safe(v) for v in (r.student, r.assignment, f"{r.score:g}", f"{r.max_score:g}",
                                               r.status, "; ".join(r.problems + r.flags + r.notes))])


def write_canvas_csv(path: Path, results: Iterable[Row]) -> None:
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
        writer.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section", *map(safe, names)])
        writer.writerow(["Points Possible", "", "", "", "", *(f"{possible[a]:g}" for a in names)])
        for student in students:
            writer.writerow([safe(student), "", "", safe(student), "",
                             *(f"{score[(student, a)]:g}" if (student, a) in score else "" for a in names)])
