"""Where the course lives, and nbgrader set up to work on it.

Every command builds on nbgrader's own API (`NbGraderAPI`, `Gradebook`) configured from
`grading/nbgrader_config.py`, so `socket-course` and nbgrader's own tools grade the same way.
"""
from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from traitlets.config import Config, PyFileConfigLoader

REPO_ROOT = Path(__file__).resolve().parents[2]


class CourseError(Exception):
    """A problem the user can fix, reported as one line and a non-zero exit."""


def _packaged(name: str) -> Path:
    """A folder shipped inside the installed package (a wheel has no clone around it)."""
    return Path(__file__).resolve().parents[1] / name


def notebooks_dir() -> Path:
    """The folder of source notebooks: $SOCKET_COURSE_NOTEBOOKS, notebooks/ of a clone, or the packaged copy."""
    if "SOCKET_COURSE_NOTEBOOKS" in os.environ:
        path = Path(os.environ["SOCKET_COURSE_NOTEBOOKS"]).resolve()
    elif (REPO_ROOT / "notebooks").is_dir():
        path = REPO_ROOT / "notebooks"
    else:
        path = _packaged("course_notebooks")
    if not path.is_dir():
        raise CourseError(f"source notebooks not found at {path}: reinstall socket-course or set "
                          "SOCKET_COURSE_NOTEBOOKS")
    return path


def grading_dir() -> Path:
    """The nbgrader course configuration: grading/ of a clone, or the packaged copy."""
    clone = REPO_ROOT / "grading"
    return clone if (clone / "nbgrader_config.py").is_file() else _packaged("course_grading")


@dataclass(frozen=True)
class Assignment:
    """One section: an nbgrader assignment of one or more notebooks."""

    name: str
    notebooks: tuple[Path, ...]

    @property
    def notebook_names(self) -> tuple[str, ...]:
        return tuple(p.stem for p in self.notebooks)


def assignments(source: Path | None = None) -> dict[str, Assignment]:
    """Every assignment under the source folder, in order: `<assignment>/<notebook>.ipynb`."""
    source = Path(source).resolve() if source else notebooks_dir()
    found = {}
    for folder in sorted(p for p in source.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))):
        nbs = tuple(sorted(p for p in folder.glob("*.ipynb") if not p.name.startswith(".")))
        if nbs:
            found[folder.name] = Assignment(folder.name, nbs)
    return found


def find_assignment(name: str, source: Path | None = None) -> Assignment:
    known = assignments(source)
    if name not in known:
        raise CourseError(f"unknown assignment {name!r}; the course has: {', '.join(known) or 'none'}")
    return known[name]


def load_config(root: Path, source: Path | None = None) -> Config:
    """grading/nbgrader_config.py, re-rooted at `root` (a scratch course folder)."""
    loader = PyFileConfigLoader("nbgrader_config.py", path=str(grading_dir()))
    config = loader.load_config()
    config.CourseDirectory.root = str(root)
    config.CourseDirectory.source_directory = str(Path(source).resolve() if source else notebooks_dir())
    config.CourseDirectory.db_url = "sqlite:///" + str(Path(root, "gradebook.db"))
    # nbgrader would otherwise log every step at INFO; the command prints its own summary.
    config.NbGraderAPI.log_level = logging.WARNING
    return config


def ensure_tools_on_path() -> None:
    """nbgrader's gradebook runs the `alembic` command by name: find it beside this interpreter.

    Without this, `.venv/bin/socket-course` fails unless the virtual environment is activated.
    """
    bindir = os.path.dirname(sys.executable)
    parts = os.environ.get("PATH", "").split(os.pathsep)
    if bindir not in parts:
        os.environ["PATH"] = os.pathsep.join([bindir, *parts])


def make_api(root: Path, source: Path | None = None, extra: Config | None = None):
    """An NbGraderAPI working on the course root `root` (with `extra` config on top)."""
    from nbgrader.apps.api import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    from .scratch import register

    ensure_tools_on_path()
    root.mkdir(parents=True, exist_ok=True)
    register(root)  # a course root made for this run: its gradebook needs no fsync
    config = load_config(root, source)
    if extra is not None:
        config.merge(extra)
    with contextlib.redirect_stdout(io.StringIO()):
        coursedir = CourseDirectory(config=config)
        api = NbGraderAPI(coursedir=coursedir, config=config)
    api.log.setLevel(logging.WARNING)
    return api


FRIENDLY = {
    "CellTimeoutError": "a cell ran past its time limit and could not be interrupted (a loop that ignores "
                        "KeyboardInterrupt?); the tests after it did not run and score 0",
    "DeadKernelError": "the kernel died (os._exit, a crash, or memory exhausted); the tests that did not run "
                       "score 0",
}


def failure_reason(result: dict) -> str:
    """The most telling line of a failed nbgrader API call's log (its exception, not its epilogue)."""
    text = "\n".join([result.get("log") or "", result.get("error") or ""])
    for marker, friendly in FRIENDLY.items():
        if marker in text:
            return friendly
    causes = [line.strip() for line in text.splitlines()
              if re.match(r"\s*[\w.]+(Error|Exception|Warning)\b.*:", line) and "NbGraderException" not in line]
    if causes:
        return causes[-1]
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "no details"


def checked(result: dict, what: str) -> dict:
    """Raise CourseError with nbgrader's own explanation when an API call failed."""
    if not result.get("success"):
        raise CourseError(f"{what} failed: {failure_reason(result)}")
    return result
