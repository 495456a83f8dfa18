"""What a learner sees when a visible test fails: the failure, first and only (issue 12).

For every section, the blank release and every registered wrong answer run in real kernels (nbclient),
and every failing visible test's error output must hold no frame of course_lib's own files and stay
within the line limits: 12 lines for an exercise not written yet, 45 for a wrong answer, the drawn
exchange's text form included. One kernel runs the release, one the reference notebook: each wrong
answer replaces its solution cell there, re-runs that exercise's visible tests, and the reference cell is
run again afterwards, so no kernel starts per wrong answer.
"""
from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

import answers as catalogue
from course_lib.grading.cells import exercises, grade_id, is_graded, solution_cell
from course_lib.grading.course import assignments, make_api
from course_lib.grading.release import generate

ROOT = Path(__file__).resolve().parents[1]
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
NOT_WRITTEN_LINES = 12
WRONG_ANSWER_LINES = 45
ASSIGNMENTS = assignments()
# A frame of course_lib's own files as IPython or Python would print it.
HARNESS_FRAME = re.compile(r"course_lib[/\\][\w/\\]*\.py")


def visible_tests(nb) -> dict[str, list[int]]:
    """exercise grade_id -> indices of its visible (not hidden) graded cells."""
    owners = exercises(nb)
    index = {grade_id(c): i for i, c in enumerate(nb.cells) if is_graded(c)}
    return {ex: [index[g] for g in gids if "BEGIN HIDDEN TESTS" not in nb.cells[index[g]].source
                 and not nb.cells[index[g]].source.lstrip().startswith("# Hidden tests")]
            for ex, gids in owners.items()}


def error_text(cell) -> str | None:
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            return ANSI.sub("", "\n".join(out.get("traceback", [])))
    return None


def run_cell(client: NotebookClient, nb, index: int, source: str | None = None):
    cell = nb.cells[index]
    if source is not None:
        cell.source = source
    cell.outputs = []
    client.execute_cell(cell, index)
    return cell


def kernel(nb, path: Path) -> NotebookClient:
    return NotebookClient(nb, timeout=60, kernel_name="python3", allow_errors=True,
                          resources={"metadata": {"path": str(path.parent)}})


def problems(label: str, text: str | None, limit: int) -> list[str]:
    if text is None:
        return []
    found = []
    lines = text.strip("\n").splitlines()
    if HARNESS_FRAME.search(text):
        found.append(f"{label}: a course_lib frame is shown")
    if len(lines) > limit:
        found.append(f"{label}: {len(lines)} lines (limit {limit})")
    if found:
        found.append("    | " + "\n    | ".join(lines[:60]))
    return found


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    base = tmp_path_factory.mktemp("release")
    api = make_api(base / "course")
    return {name: generate(api, a) / a.notebooks[0].name for name, a in ASSIGNMENTS.items()}


@pytest.mark.parametrize("assignment", sorted(ASSIGNMENTS))
def test_blank_release_failures_are_one_line(assignment, released):
    path = released[assignment]
    nb = nbformat.read(str(path), as_version=4)
    found = []
    client = kernel(nb, path)
    with client.setup_kernel():
        for index, cell in enumerate(nb.cells):
            if cell.cell_type == "code":
                run_cell(client, nb, index)
    for exercise, cells in visible_tests(nb).items():
        for index in cells:
            text = error_text(nb.cells[index])
            assert text is not None, f"{grade_id(nb.cells[index])} passes on the blank release"
            found += problems(grade_id(nb.cells[index]), text, NOT_WRITTEN_LINES)
            name = re.search(r"(?:def|class) (\w+)", solution_cell(nb, exercise).source)
            if name and f"`{name[1]}` is not written yet" not in text:
                found.append(f"{grade_id(nb.cells[index])}: does not say `{name[1]}` is not written yet:\n{text}")
    assert not found, "\n".join(found)


@pytest.mark.parametrize("assignment", sorted(ASSIGNMENTS))
def test_wrong_answer_failures_are_short_and_clean(assignment):
    path = ASSIGNMENTS[assignment].notebooks[0]
    nb = nbformat.read(str(path), as_version=4)
    visible = visible_tests(nb)
    found = []
    client = kernel(nb, path)
    with client.setup_kernel():
        for index, cell in enumerate(nb.cells):
            if cell.cell_type == "code" and not is_graded(cell):
                run_cell(client, nb, index)
        for wrong in catalogue.wrong_answers(assignment):
            cell = solution_cell(nb, wrong.grade_id)
            index = nb.cells.index(cell)
            reference = cell.source
            run_cell(client, nb, index, wrong.source)
            for test in visible[wrong.grade_id]:
                text = error_text(run_cell(client, nb, test))
                found += problems(f"{wrong.path.name} in {grade_id(nb.cells[test])}", text, WRONG_ANSWER_LINES)
            run_cell(client, nb, index, reference)
    assert not found, "\n".join(found)
