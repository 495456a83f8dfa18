"""Submissions are data: find them without following links, read them with bounds, never quote them.

A class's submissions folder is written by students (or by a script that collected their uploads), so
every name and byte in it is untrusted. This module is the only place that touches it:
- `discover` walks SUBMISSIONS/<student>/<assignment>/ with lstat: a symbolic link, a device, a FIFO or
  anything but a plain folder or file is refused with a reason, never followed;
- `read_notebook` opens a notebook with O_NOFOLLOW (and every folder from the submissions folder down to
  it, so a folder swapped for a link after `discover` is not followed), checks it is a regular file, reads
  at most LIMITS.bytes,
  and checks the cell count, source sizes and ids before nbformat sees it; outputs a student submitted are
  dropped (autograde runs the notebook afresh);
- messages say what is wrong with a file in the grader's words: they never quote the file's contents.
"""
from __future__ import annotations

import errno
import json
import os
import re
import stat
import warnings
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbformat.v4.rwbase import rejoin_lines

ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@+-]*$")
MAX_ID = 64  # characters in a student or assignment folder name


@dataclass(frozen=True)
class Limits:
    """Bounds on one submitted notebook, checked before it is parsed or run."""

    bytes: int = 16 * 1024**2  # the file
    cells: int = 2000
    source: int = 1024**2  # characters in one cell's source
    total_source: int = 4 * 1024**2  # characters in all sources
    id: int = 64  # a cell id or grade_id


LIMITS = Limits()


@dataclass(frozen=True)
class Found:
    """One student's folder for one assignment (or the reason it cannot be graded)."""

    student: str
    assignment: str
    folder: Path
    problem: str = ""


def shown(name: str) -> str:
    """A folder name fit for a report: printable, short, and never a path."""
    clean = "".join(ch if ch.isprintable() and ch not in "/\\" else "?" for ch in name)
    return clean if len(clean) <= MAX_ID else clean[: MAX_ID - 1] + "…"


def id_problem(kind: str, name: str) -> str:
    if len(name) > MAX_ID:
        return f"{kind} folder name is {len(name)} characters long (at most {MAX_ID})"
    if not ID.match(name):
        return f"{kind} folder name {shown(name)!r} is not a usable id (letters, digits and _.@+- only)"
    return ""


def _kind(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISREG(mode):
        return "a file"
    return "a special file"


def _entries(folder: Path) -> list[os.DirEntry]:
    with os.scandir(folder) as it:
        return sorted((e for e in it if not e.name.startswith(".")), key=lambda e: e.name)


def discover(submissions: Path) -> list[Found]:
    """Every `<student>/<assignment>/` under `submissions`, in a stable order; links are refused."""
    found: list[Found] = []
    for student in _entries(submissions):
        mode = student.stat(follow_symlinks=False).st_mode
        if not stat.S_ISDIR(mode):
            if stat.S_ISLNK(mode):
                found.append(Found(shown(student.name), "?", Path(student.path),
                                   "the student folder is a symbolic link: refused, not followed"))
            continue  # stray files beside the student folders (a README, a zip) are not submissions
        problem = id_problem("student", student.name)
        try:
            assignments = _entries(Path(student.path))
        except OSError as exc:
            found.append(Found(shown(student.name), "?", Path(student.path),
                               f"the student folder cannot be read ({exc.strerror or type(exc).__name__})"))
            continue
        for entry in assignments:
            mode = entry.stat(follow_symlinks=False).st_mode
            if stat.S_ISLNK(mode):
                found.append(Found(shown(student.name), shown(entry.name), Path(entry.path),
                                   problem or "the assignment folder is a symbolic link: refused, not followed"))
            elif stat.S_ISDIR(mode):
                found.append(Found(shown(student.name), shown(entry.name), Path(entry.path),
                                   problem or id_problem("assignment", entry.name)))
    return found


class Unreadable(Exception):
    """A submitted notebook that cannot be graded; the message is the grader's, never the file's text."""


_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_WALKS = os.open in os.supports_dir_fd and os.stat in os.supports_dir_fd and hasattr(os, "O_DIRECTORY")


def _folder_of(path: Path, under: Path | None) -> tuple[int | None, str]:
    """A descriptor of `path`'s folder reached from `under` one component at a time, never through a
    link (a folder swapped for a link after `discover` looked is refused), and the file's name in it.
    (None, path) where there is nothing to walk: no `under`, or no dir_fd on this platform."""
    if under is None or not _WALKS:
        return None, str(path)
    try:
        parts = path.relative_to(under).parts
    except ValueError:
        raise Unreadable(f"{path.name} is not inside the submissions folder: refused") from None
    if not parts or any(part in (".", "..") for part in parts):
        raise Unreadable(f"{path.name} is not inside the submissions folder: refused")
    folder = os.open(under, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for part in parts[:-1]:
            inner = os.open(part, os.O_RDONLY | os.O_DIRECTORY | _NOFOLLOW, dir_fd=folder)
            os.close(folder)
            folder = inner
    except OSError as exc:
        os.close(folder)
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise Unreadable(f"a folder on the way to {path.name} is a symbolic link or not a folder: "
                             "refused, not followed") from None
        raise Unreadable(f"{path.name} cannot be reached ({exc.strerror or type(exc).__name__})") from None
    return folder, parts[-1]


def read_bytes(path: Path, limit: int, under: Path | None = None) -> bytes:
    """The bytes of a regular file, opened without following a link, at most `limit` of them.

    With `under` (the submissions folder, which the instructor gave), every folder between it and the
    file is opened without following a link too, so nothing swapped in after `discover` is followed.
    """
    flags = os.O_RDONLY | _NOFOLLOW | getattr(os, "O_NONBLOCK", 0)
    folder, name = _folder_of(path, under)
    try:
        try:
            st = os.stat(name, dir_fd=folder, follow_symlinks=False)
        except FileNotFoundError:
            raise Unreadable(f"{path.name} is missing") from None
        if not stat.S_ISREG(st.st_mode):
            raise Unreadable(f"{path.name} is {_kind(st.st_mode)}, not a notebook file: refused")
        try:
            fd = os.open(name, flags, dir_fd=folder)
        except OSError as exc:
            raise Unreadable(f"{path.name} cannot be opened ({exc.strerror or type(exc).__name__})") from None
    finally:
        if folder is not None:
            os.close(folder)
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):  # swapped between lstat and open
            raise Unreadable(f"{path.name} is not a regular file: refused")
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise Unreadable(f"{path.name} is larger than {limit // 1024**2} MiB: refused")
    return data


def _check_shape(raw: object, name: str, limits: Limits) -> None:
    if not isinstance(raw, dict):
        raise Unreadable(f"{name} is not a notebook (its top level is not a JSON object)")
    if raw.get("nbformat") != 4:
        raise Unreadable(f"{name} is not in notebook format 4 (open it in JupyterLab and save it again)")
    cells = raw.get("cells")
    if not isinstance(cells, list):
        raise Unreadable(f"{name} is not a valid notebook (it has no list of cells)")
    if len(cells) > limits.cells:
        raise Unreadable(f"{name} has {len(cells)} cells (at most {limits.cells})")
    total = 0
    for i, cell in enumerate(cells):
        if not isinstance(cell, dict):
            raise Unreadable(f"{name} is not a valid notebook (cell {i} is not an object)")
        source = cell.get("source", "")
        size = sum(len(s) for s in source if isinstance(s, str)) if isinstance(source, list) else len(str(source))
        if size > limits.source:
            raise Unreadable(f"{name}: cell {i} holds {size} characters of source (at most {limits.source})")
        total += size
        for key in ("id",):
            if len(str(cell.get(key, ""))) > limits.id:
                raise Unreadable(f"{name}: cell {i} has an id longer than {limits.id} characters")
        meta = cell.get("metadata")
        nbg = meta.get("nbgrader") if isinstance(meta, dict) else None
        if isinstance(nbg, dict) and len(str(nbg.get("grade_id", ""))) > limits.id:
            raise Unreadable(f"{name}: cell {i} has a grade_id longer than {limits.id} characters")
    if total > limits.total_source:
        raise Unreadable(f"{name} holds {total} characters of source (at most {limits.total_source})")


def read_notebook(path: Path, limits: Limits = LIMITS, under: Path | None = None) -> nbformat.NotebookNode:
    """A submitted notebook, checked and bounded, with the outputs it was submitted with dropped (`under`:
    the submissions folder, see read_bytes)."""
    data = read_bytes(path, limits.bytes, under)
    try:
        raw = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise Unreadable(f"{path.name} is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise Unreadable(f"{path.name} is not valid JSON (line {exc.lineno}, column {exc.colno})") from None
    except RecursionError:
        raise Unreadable(f"{path.name} is nested too deeply to be a notebook") from None
    _check_shape(raw, path.name, limits)
    for cell in raw["cells"]:
        if cell.get("cell_type") == "code":
            cell["outputs"], cell["execution_count"] = [], None
    try:
        nb = rejoin_lines(nbformat.from_dict(raw))  # what nbformat.reads does after parsing
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a missing cell id is repaired, not worth a warning
            nbformat.validate(nb)
    except nbformat.ValidationError as exc:
        where = "/".join(str(p) for p in list(getattr(exc, "absolute_path", []))[:4]) or "the top level"
        raise Unreadable(f"{path.name} does not follow the notebook format (at {where})") from None
    except RecursionError:
        raise Unreadable(f"{path.name} is nested too deeply to be a notebook") from None
    return nb
