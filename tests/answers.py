"""The catalogue of answers: one loader for tests/wrong_answers/ and tests/correct_answers/.

Every realistic mistake a learner makes lives once, as a file that replaces one solution cell:
``tests/wrong_answers/<assignment>/<grade_id>__<mistake>.py`` (first line: a comment naming the mistake),
and every right answer in another style as ``tests/correct_answers/<assignment>/<grade_id>__<style>.py``.
The honesty harness grades them in notebooks, the failure-output test runs them in kernels, the check
tests (tests/course_lib, tests/exercises) call them directly, and benchmarks/mutants.py and
benchmarks/harness.py run them in one warm process: all through this module.

Importable as ``answers`` from the tests (tests/ is on sys.path through its conftest.py) and from the
benchmarks (they put tests/ on sys.path).
"""
from __future__ import annotations

import ast
import contextlib
import functools
import gc
import io
import re
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"
WRONG = REPO / "tests" / "wrong_answers"
CORRECT = REPO / "tests" / "correct_answers"
FILE_NAME = re.compile(r"^(?P<gid>[a-z0-9_]+?)__(?P<name>[a-z0-9_]+)\.py$")


@dataclass(frozen=True)
class Answer:
    """One file of the catalogue: a full replacement for the solution cell `grade_id` of `assignment`."""

    assignment: str
    grade_id: str
    name: str  # the mistake (wrong answers) or the style (correct answers)
    path: Path

    @property
    def mistake(self) -> str:
        return self.name

    @property
    def key(self) -> str:
        """``<grade_id>__<name>``, the file's stem."""
        return self.path.stem

    @property
    def source(self) -> str:
        return self.path.read_text()


def _listed(folder: Path, assignment: str, grade_id: str | None) -> list[Answer]:
    found = []
    for path in sorted(folder.glob("*.py")):
        m = FILE_NAME.match(path.name)
        assert m, f"{path}: name it <grade_id>__<mistake>.py"
        if grade_id is None or m["gid"] == grade_id:
            found.append(Answer(assignment, m["gid"], m["name"], path))
    return found


def wrong_answers(assignment: str, grade_id: str | None = None, folder: Path | None = None) -> list[Answer]:
    """The registered wrong answers of one assignment (of one exercise if `grade_id` is given)."""
    return _listed(folder or WRONG / assignment, assignment, grade_id)


def correct_answers(assignment: str, grade_id: str | None = None, folder: Path | None = None) -> list[Answer]:
    """The correct answers in other styles of one assignment (of one exercise if `grade_id` is given)."""
    return _listed(folder or CORRECT / assignment, assignment, grade_id)


def assignments() -> list[str]:
    """The course's sections (folder names under notebooks/)."""
    return sorted(p.parent.name for p in NOTEBOOKS.glob("[0-9]*/*.ipynb") if not p.name.startswith("."))


def notebook_path(assignment: str) -> Path:
    (path,) = [p for p in (NOTEBOOKS / assignment).glob("*.ipynb") if not p.name.startswith(".")]
    return path


# --- answers as Python objects, for the tests that call checks directly ------------------------------


@functools.lru_cache(maxsize=None)
def _notebook(assignment: str):
    import nbformat

    return nbformat.read(str(notebook_path(assignment)), as_version=4)


def _meta(cell) -> dict:
    return cell.metadata.get("nbgrader", {}) or {}


def reference_source(assignment: str, grade_id: str) -> str:
    """The reference solution cell of an exercise, as the source notebook has it."""
    for cell in _notebook(assignment).cells:
        meta = _meta(cell)
        if meta.get("solution") and not meta.get("grade") and meta.get("grade_id") == grade_id:
            return cell.source
    raise KeyError(f"{assignment} has no solution cell {grade_id!r}")


def defined_name(source: str) -> str:
    """The function or class a solution cell defines (CONTRIBUTING.md: exactly one)."""
    names = [n.name for n in ast.parse(source).body
             if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
    assert names, "a solution cell defines a function or a class"
    return names[-1]


def setup_source(assignment: str) -> str:
    """The notebook's locked setup cell (grade_id ``setup``): the imports every solution cell relies on."""
    for cell in _notebook(assignment).cells:
        if cell.cell_type == "code" and _meta(cell).get("grade_id") == "setup":
            return cell.source
    raise KeyError(f"{assignment} has no setup cell")


def define(assignment: str, grade_id: str, source: str, filename: str = "<answer>"):
    """Run a replacement for solution cell `grade_id` after the notebook's setup cell, in a namespace of its own.

    Returns what the cell defines under the reference's name (the exercise's function or class). The
    setup cell's prints are swallowed; everything else runs as the kernel runs it.
    """
    namespace: dict = {"__name__": "__main__"}
    with contextlib.redirect_stdout(io.StringIO()):
        exec(compile(setup_source(assignment), f"<{assignment} setup>", "exec"), namespace)  # noqa: S102
    exec(compile(source, filename, "exec"), namespace)  # noqa: S102 - a solution cell or a fixture
    return namespace[defined_name(reference_source(assignment, grade_id))]


def load(answer: Answer):
    """The function or class a catalogue file defines."""
    return define(answer.assignment, answer.grade_id, answer.source, str(answer.path))


def reference(assignment: str, grade_id: str):
    """The reference solution's function or class."""
    return define(assignment, grade_id, reference_source(assignment, grade_id), f"<{assignment} {grade_id}>")


@contextlib.contextmanager
def its_leaks_are_its_own(grace: float = 2.0):
    """Run a wrong answer whose mistake leaves its own sockets to the garbage collector (a crash on a reset,
    a socket never closed): their ResourceWarnings are the answer's, not the harness's.

    For the leak-strict tests: the threads started in the block get `grace` seconds to end, then the
    garbage is collected here, its warnings ignored. Descriptors still open afterwards are not garbage:
    the leak check after the test still sees them.
    """
    before = set(threading.enumerate())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        try:
            yield
        finally:
            from course_lib.timing import Deadline, scaled

            deadline = Deadline(scaled(grace))
            for t in set(threading.enumerate()) - before:
                t.join(deadline.remaining())
            gc.collect()


# --- which shared check each exercise's tests call ---------------------------------------------------


@dataclass(frozen=True)
class CheckCall:
    """How an exercise's visible test cell calls a check of course_lib.checks: ``checks.<check>(fn, *args)``."""

    assignment: str
    grade_id: str
    check: str
    args: tuple = ()
    kwargs: tuple = ()  # (name, value) pairs, edge_cases left out

    @property
    def id(self) -> str:
        return f"{self.assignment}/{self.grade_id}"


def check_calls(assignment: str) -> list[CheckCall]:
    """Exercises whose visible test cell is one call ``checks.check_x(<the exercise's function>, ...)``.

    Read from the notebook, so the check tests call each check as the notebook does, and follow the
    notebook when its tests change.
    """
    found = []
    cells = [c for c in _notebook(assignment).cells if c.cell_type == "code"]
    for i, cell in enumerate(cells):
        meta = _meta(cell)
        if not (meta.get("solution") and not meta.get("grade")) or i + 1 >= len(cells):
            continue
        test = cells[i + 1]
        if not _meta(test).get("grade"):
            continue
        name = defined_name(cell.source)
        for node in ast.walk(ast.parse(test.source)):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and isinstance(node.func.value, ast.Name) and node.func.value.id == "checks"
                    and node.args and isinstance(node.args[0], ast.Name) and node.args[0].id == name):
                args = tuple(ast.literal_eval(a) for a in node.args[1:])
                kwargs = tuple((k.arg, ast.literal_eval(k.value)) for k in node.keywords if k.arg != "edge_cases")
                found.append(CheckCall(assignment, meta["grade_id"], node.func.attr, args, kwargs))
                break
    return found
