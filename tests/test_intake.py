"""Submissions are data: the intake refuses links and special files, bounds sizes, never quotes a file."""
from __future__ import annotations

import json
import os
from pathlib import Path

import nbformat
import pytest

from course_lib.grading.export import safe
from course_lib.grading.intake import Limits, Unreadable, discover, read_notebook

PILOT = Path(__file__).parent / "fixtures" / "pilot_course" / "00_pilot" / "pilot.ipynb"
SECRET = "TOP-SECRET-CONTENT"


def notebook(tmp_path: Path, raw) -> Path:
    path = tmp_path / "nb.ipynb"
    path.write_text(raw if isinstance(raw, str) else json.dumps(raw))
    return path


def pilot() -> dict:
    return json.loads(PILOT.read_text())


def test_reads_a_notebook_and_drops_submitted_outputs(tmp_path):
    raw = pilot()
    code = next(c for c in raw["cells"] if c["cell_type"] == "code")
    code["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "x" * 100}]
    nb = read_notebook(notebook(tmp_path, raw))
    assert isinstance(nb.cells[0].source, str)
    assert all(c.outputs == [] for c in nb.cells if c.cell_type == "code")
    nbformat.validate(nb)


@pytest.mark.parametrize("raw,why", [
    ("{ " + SECRET, "not valid JSON (line 1"),
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    (json.dumps([SECRET]), "top level is not a JSON object"),
    (json.dumps({"nbformat": 3, "worksheets": [SECRET]}), "notebook format 4"),
    (json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [{"cell_type": SECRET}]}),
     "does not follow the notebook format"),
])
def test_unreadable_notebooks_are_named_not_quoted(tmp_path, raw, why):
    with pytest.raises(Unreadable) as info:
        read_notebook(notebook(tmp_path, raw))
    assert why in str(info.value) and SECRET not in str(info.value)


@pytest.mark.parametrize("limits,edit,why", [
    (Limits(bytes=1000), None, "larger than"),
    (Limits(cells=3), None, "cells (at most 3)"),
    (Limits(source=50), None, "characters of source (at most 50)"),
    (Limits(total_source=200), None, "characters of source (at most 200)"),
    (Limits(), lambda raw: raw["cells"][0].update(id="i" * 65), "id longer than"),
    (Limits(), lambda raw: raw["cells"][3]["metadata"]["nbgrader"].update(grade_id="g" * 65), "grade_id longer"),
])
def test_sizes_are_bounded_before_parsing(tmp_path, limits, edit, why):
    raw = pilot()
    if edit:
        edit(raw)
    with pytest.raises(Unreadable, match=r".*") as info:
        read_notebook(notebook(tmp_path, raw), limits)
    assert why in str(info.value)


def test_links_and_special_files_are_refused_without_being_opened(tmp_path):
    link = tmp_path / "link.ipynb"
    link.symlink_to(PILOT)
    with pytest.raises(Unreadable, match="symbolic link"):
        read_notebook(link)
    fifo = tmp_path / "fifo.ipynb"
    os.mkfifo(fifo)  # opening it for reading would block forever
    with pytest.raises(Unreadable, match="special file"):
        read_notebook(fifo)
    with pytest.raises(Unreadable, match="is a folder"):
        read_notebook(tmp_path)
    with pytest.raises(Unreadable, match="is missing"):
        read_notebook(tmp_path / "absent.ipynb")


@pytest.mark.skipif(not hasattr(os, "O_DIRECTORY") or os.open not in os.supports_dir_fd,
                    reason="opening relative to a folder descriptor is POSIX")
def test_a_folder_swapped_for_a_link_after_discovery_is_not_followed(tmp_path):
    """discover saw plain folders; then a student folder (or an assignment folder) became a link to
    somewhere else before the worker read the notebook: the read refuses, it does not follow."""
    subs = tmp_path / "subs"
    (subs / "alice" / "00_pilot").mkdir(parents=True)
    (subs / "alice" / "00_pilot" / "pilot.ipynb").write_text(PILOT.read_text())
    [found] = discover(subs)
    assert read_notebook(found.folder / "pilot.ipynb", under=subs).cells  # as discovered: read
    elsewhere = tmp_path / "elsewhere" / "00_pilot"
    elsewhere.mkdir(parents=True)
    (elsewhere / "pilot.ipynb").write_text(PILOT.read_text())
    (subs / "alice").rename(tmp_path / "moved")
    (subs / "alice").symlink_to(elsewhere.parent)  # the student folder is a link now
    with pytest.raises(Unreadable, match="on the way to pilot.ipynb is a symbolic link"):
        read_notebook(found.folder / "pilot.ipynb", under=subs)
    (subs / "alice").unlink()
    (subs / "alice").mkdir()
    (subs / "alice" / "00_pilot").symlink_to(elsewhere)  # the assignment folder is a link now
    with pytest.raises(Unreadable, match="symbolic link"):
        read_notebook(found.folder / "pilot.ipynb", under=subs)
    with pytest.raises(Unreadable, match="not inside the submissions folder"):
        read_notebook(elsewhere / "pilot.ipynb", under=subs)


def test_discover_refuses_links_and_names_that_are_not_ids(tmp_path):
    subs = tmp_path / "subs"
    (subs / "alice" / "01_creation").mkdir(parents=True)
    (subs / "alice" / "02_constants").symlink_to(subs / "alice" / "01_creation", target_is_directory=True)
    (subs / "mallory").symlink_to(subs / "alice", target_is_directory=True)
    (subs / ("x" * 100) / "01_creation").mkdir(parents=True)
    (subs / "bad name!" / "01_creation").mkdir(parents=True)
    (subs / "README.txt").write_text("not a submission")
    found = {(f.student, f.assignment): f.problem for f in discover(subs)}
    assert found[("alice", "01_creation")] == ""
    assert "symbolic link" in found[("alice", "02_constants")]
    assert "symbolic link" in found[("mallory", "?")]
    assert "100 characters long" in found[("x" * 63 + "…", "01_creation")]
    assert "not a usable id" in found[("bad name!", "01_creation")]
    assert len(found) == 5


@pytest.mark.parametrize("value,expected", [
    ("=SUM(A1)", "'=SUM(A1)"), ("+1", "'+1"), ("-2", "'-2"), ("@x", "'@x"), ("a\x1b[31mb\nc", "a [31mb c"),
    ("alice", "alice"), ("3", "3"),
])
def test_csv_cells_are_safe_for_spreadsheets(value, expected):
    assert safe(value) == expected
