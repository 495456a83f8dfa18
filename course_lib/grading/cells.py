"""Reading nbgrader cell metadata: which cells are solutions, which are graded, who owns which."""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # only for the annotations: the judge reads notebooks without importing nbformat (slow)
    from nbformat import NotebookNode


def nbgrader_meta(cell: NotebookNode) -> dict:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return meta if isinstance(meta, dict) else {}


def is_solution(cell: NotebookNode) -> bool:
    return bool(nbgrader_meta(cell).get("solution"))


def is_graded(cell: NotebookNode) -> bool:
    return bool(nbgrader_meta(cell).get("grade"))


def grade_id(cell: NotebookNode) -> str | None:
    return nbgrader_meta(cell).get("grade_id")


def exercises(nb: NotebookNode) -> dict[str, list[str]]:
    """Solution grade_id -> the graded cells it owns.

    A graded cell belongs to the nearest solution cell above it (CONTRIBUTING.md); graded cells above
    every solution cell are collected under "" .
    """
    owners: dict[str, list[str]] = {}
    current = ""
    for cell in nb.cells:
        if is_solution(cell) and not is_graded(cell):
            current = grade_id(cell) or ""
            owners.setdefault(current, [])
        elif is_graded(cell):
            owners.setdefault(current, []).append(grade_id(cell) or "")
    return owners


def solution_cell(nb: NotebookNode, gid: str) -> NotebookNode:
    for cell in nb.cells:
        if is_solution(cell) and grade_id(cell) == gid:
            return cell
    raise KeyError(f"no solution cell with grade_id {gid!r}")
