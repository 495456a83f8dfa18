"""A class of hostile submissions, graded beside a clean one that must keep full marks.

Each submission replaces the pilot notebook's solution cell with a file from tests/fixtures/hostile/
(or tampers with the notebook's structure), and the whole class is graded in one run of the real
pipeline, two at a time, with a short cell timeout and wall budget so the suite stays quick.
"""
from __future__ import annotations

import csv
import json
import os
import sqlite3
import stat
import sys
import time
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import psutil
import pytest

from course_lib.grading.cells import solution_cell
from course_lib.grading.grade import grade
from course_lib.grading.intake import LIMITS
from course_lib.grading.sandbox import KERNEL_ENV, PROCESS_LIMIT, _cgroup_dirs, bwrap_path

HERE = Path(__file__).parent
PILOT = HERE / "fixtures" / "pilot_course"
HOSTILE = HERE / "fixtures" / "hostile"
# in the seconds of the `sleep`s hostile notebooks leave behind: the processes this run must not leave are
# told from those of a run beside it (tests/test_unprivileged.py runs this file again, in another worker)
MARK = f".{os.getpid()}"  # sleep 307.<pid>: still about 307 s
REPO = HERE.parent
NOTEBOOK = PILOT / "00_pilot" / "pilot.ipynb"
BUDGET = 25.0
CELL_TIMEOUT = 4
LONG_NAME = "s" * 245
FORMULA_NAME = "=SUM(1,2)+cmd"
SANDBOXED_ONLY = {"snoops", "plants_files"}  # unsandboxed, their writes would land in the repository


def with_solution(source: str) -> nbformat.NotebookNode:
    nb = nbformat.read(str(NOTEBOOK), as_version=4)
    cell = solution_cell(nb, "ex1_roundtrip")
    cell.source = source
    return nb


def structural() -> dict[str, nbformat.NotebookNode]:
    cases = {}
    nb = nbformat.read(str(NOTEBOOK), as_version=4)
    nb.cells = [c for c in nb.cells if not c.metadata.get("nbgrader", {}).get("grade")]
    cases["deletes_tests"] = nb
    nb = with_solution("def roundtrip(data):\n    return b''")
    for c in nb.cells:
        if c.metadata.get("nbgrader", {}).get("grade"):
            c.source = "pass  # edited by the learner"
    cases["edits_tests"] = nb
    nb = with_solution("def roundtrip(data):\n    return b''")
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "ex1_roundtrip_test")
    cell.cell_type = "markdown"
    for key in ("outputs", "execution_count"):
        cell.pop(key, None)
    cases["changes_cell_type"] = nb
    nb = with_solution(solution_cell(nbformat.read(str(NOTEBOOK), as_version=4), "ex1_roundtrip").source)
    nb.cells.append(nbformat.v4.new_markdown_cell(
        "<script>alert('pwned-markdown')</script><img src=x onerror=alert(2)>"))
    nb.cells.append(nbformat.v4.new_code_cell("print('\\n'.join(In))\nget_ipython()"))
    cases["adds_cells"] = nb
    return cases


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    base = tmp_path_factory.mktemp("hostile")
    subs = base / "submissions"

    def put(student: str, nb: nbformat.NotebookNode | None = None, raw: str | None = None):
        dest = subs / student / "00_pilot" / "pilot.ipynb"
        dest.parent.mkdir(parents=True)
        if raw is not None:
            dest.write_text(raw)
        else:
            nbformat.write(nb, str(dest))

    put("clean", nbformat.read(str(NOTEBOOK), as_version=4))
    reference = solution_cell(nbformat.read(str(NOTEBOOK), as_version=4), "ex1_roundtrip").source
    for path in sorted(HOSTILE.glob("*.py")):  # @REFERENCE@ stands for the correct solution
        if path.stem in SANDBOXED_ONLY and bwrap_path() is None:
            continue
        put(path.stem, with_solution(path.read_text().replace("@REPO@", str(REPO)).replace("@REFERENCE@", reference)
                                     .replace("@PID@", MARK)))
    for name, nb in structural().items():
        put(name, nb)
    put("invalid_json", raw="{ not a notebook")
    v3 = {"nbformat": 3, "nbformat_minor": 0, "metadata": {}, "worksheets": [{"cells": [
        {"cell_type": "code", "input": "print('old')", "language": "python", "outputs": [], "metadata": {}}]}]}
    put("old_nbformat", raw=json.dumps(v3))
    # submissions that are not plain data: links, special files, oversized or oddly named
    (subs / "linked_student").symlink_to(PILOT, target_is_directory=True)
    (subs / "linked_notebook" / "00_pilot").mkdir(parents=True)
    (subs / "linked_notebook" / "00_pilot" / "pilot.ipynb").symlink_to(NOTEBOOK)
    (subs / "fifo_notebook" / "00_pilot").mkdir(parents=True)
    os.mkfifo(subs / "fifo_notebook" / "00_pilot" / "pilot.ipynb")
    many = with_solution("def roundtrip(data):\n    return data")
    many.cells += [nbformat.v4.new_markdown_cell("padding") for _ in range(LIMITS.cells)]
    put("too_many_cells", many)
    put(LONG_NAME, nbformat.read(str(NOTEBOOK), as_version=4))
    put(FORMULA_NAME, nbformat.read(str(NOTEBOOK), as_version=4))
    before = snapshot(subs)
    repo_before = snapshot(REPO / "notebooks", REPO / "course_lib", PILOT)
    out = base / "out"
    start = time.monotonic()
    os.environ["SC_GRADER_SECRET"] = "the grader's own environment never reaches a kernel"
    try:
        results = grade(subs, out, feedback=True, source=PILOT, jobs=2, wall_budget=BUDGET,
                        cell_timeout=CELL_TIMEOUT)
    finally:
        del os.environ["SC_GRADER_SECRET"]
    elapsed = time.monotonic() - start
    return {"results": {r.student: r for r in results}, "out": out, "subs": subs, "before": before,
            "repo_before": repo_before, "elapsed": elapsed, "count": len(results)}


def snapshot(*folders: Path) -> dict:
    """Every entry under the folders, links not followed: (kind, bytes or target)."""
    seen = {}
    for folder in folders:
        for p in sorted(folder.rglob("*")):
            if "__pycache__" in p.parts:
                continue
            if p.is_symlink():
                seen[p] = ("link", os.readlink(p))
            elif p.is_file():
                seen[p] = ("file", p.read_bytes()) if stat.S_ISREG(p.stat().st_mode) else ("special", b"")
    return seen


def printed(student: str, marker: str, graded) -> dict:
    """What a hostile submission printed after `marker`, read from its autograded notebook."""
    [path] = (graded["out"] / "work" / "jobs").glob(f"*/autograded/{student}/00_pilot/pilot.ipynb")
    nb = nbformat.read(str(path), as_version=4)
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    return json.loads(text.split(marker + " ", 1)[1].splitlines()[0])


def test_clean_submission_keeps_full_marks(graded):
    clean = graded["results"]["clean"]
    assert (clean.score, clean.max_score, clean.status) == (3, 3, "graded")


@pytest.mark.parametrize("student", ["infinite_loop", "ignores_interrupts", "blocking_accept", "asks_for_input",
                                     "kills_kernel", "memory_bomb", "swallows_errors", "patches_module",
                                     "obfuscated", "fake_equality", "floods_output", "nests_deeply", "deletes_tests",
                                     "edits_tests", "changes_cell_type",
                                     "invalid_json", "old_nbformat", "reaches_shell_via_exit", "transforms_input"])
def test_hostile_submission_earns_nothing(graded, student):
    result = graded["results"][student]
    assert result.score == 0, f"{student}: {result}"


@pytest.mark.parametrize("student,why", [
    # the test cells were emptied in the kernel (so "passed" there); the judge, outside it, failed them
    ("reaches_shell_via_exit", "the notebook's own test passed, the judge failed it"),
    # every later cell became `pass`, the judge's agent too: nothing judged, nothing scored
    ("transforms_input", "not judged"),
])
def test_tricks_the_static_scan_misses_are_zeroed_by_the_judge(graded, student, why):
    result = graded["results"][student]
    assert not any("reaches" in f or "get_ipython" in f for f in result.flags), "the scan saw it: not this test's case"
    assert result.score == 0 and result.status == "flagged", result
    assert any(why in flag for flag in result.flags), result.flags


@pytest.mark.parametrize("student,why", [
    ("swallows_errors", "get_ipython"), ("patches_module", "replaces part of an imported module"),
    ("obfuscated", "__subclasses__"), ("fake_equality", "defines __eq__"), ("kills_kernel", "os._exit"),
    ("deletes_tests", "was deleted"),
    ("changes_cell_type", "changed from code to markdown"),
])
def test_tampering_is_flagged_with_the_reason(graded, student, why):
    result = graded["results"][student]
    assert result.status in {"flagged", "error"}
    assert any(why in flag for flag in result.flags), result.flags


def test_a_rebound_name_the_hidden_test_uses_is_judged_with_the_real_one(graded):
    """`bytes` rebound in the kernel made the hidden test's payload empty there; the judge has its own."""
    result = graded["results"]["rebinds_test_names"]
    assert result.cells == {"ex1_roundtrip_test": (1, 1), "ex1_roundtrip_hidden": (0, 2)}, result
    assert result.status == "flagged" and any(f.startswith("ex1_roundtrip_hidden: the notebook's own test passed")
                                              for f in result.flags), result.flags


def test_unreadable_notebooks_get_a_clear_error_row(graded):
    rows = {r["student"]: r for r in csv.DictReader((graded["out"] / "grades.csv").open())}
    assert rows["invalid_json"]["status"] == "error" and "not valid JSON" in rows["invalid_json"]["problems"]
    assert rows["invalid_json"]["score"] == "0"
    assert len(rows) == graded["count"]


def test_interrupt_ignoring_cell_ends_the_notebook(graded):
    result = graded["results"]["ignores_interrupts"]
    assert result.status == "error" and "could not be interrupted" in " ".join(result.problems)
    assert graded["results"]["kills_kernel"].status in {"error", "flagged"}
    # 18 submissions, two at a time; the slowest are bounded by the cell timeout and the budget
    assert graded["elapsed"] < 4 * BUDGET


def test_wall_budget_stops_a_notebook_and_everything_it_started(tmp_path):
    subs = tmp_path / "subs"
    dest = subs / "looper" / "00_pilot" / "pilot.ipynb"
    dest.parent.mkdir(parents=True)
    nbformat.write(with_solution(f"import subprocess\nsubprocess.Popen(['sleep', '309{MARK}'])\nwhile True:\n    pass"),
                   str(dest))
    start = time.monotonic()
    [result] = grade(subs, tmp_path / "out", feedback=False, source=PILOT, jobs=1, wall_budget=6, cell_timeout=60)
    assert time.monotonic() - start < 6 + 15  # the budget, plus set-up and clean-up
    assert result.status == "error" and "budget" in " ".join(result.problems) and result.score == 0
    leftovers = [p.info for p in psutil.process_iter(["cmdline"]) if p.info["cmdline"] == ["sleep", f"309{MARK}"]]
    assert not leftovers
    assert not jail_leftovers()


def test_nothing_is_left_running(graded):
    leftovers = [p.info for p in psutil.process_iter(["pid", "cmdline"])
                 if p.info["cmdline"] and p.info["cmdline"][:2] in (["sleep", f"307{MARK}"], ["sleep", f"308{MARK}"])]
    assert not leftovers, f"processes outlived grading: {leftovers}"
    assert graded["results"]["leaves_children"].score == 3  # its work was right; its processes are gone
    assert not jail_leftovers()


def jail_leftovers() -> list[Path]:
    """cgroups and IPC/kernelspec folders of jails that were not removed: those whose worker is gone.

    A jail named after a live process is in use (another test run on this machine, a pytest-xdist
    worker beside this one); a jail whose worker has exited was left behind.
    """
    found = [p for folder, _ in _cgroup_dirs("probe") for p in folder.parent.glob("socket-course-*")]
    found += [p for p in Path("/tmp").glob("sc-*-*") if p.name.split("-")[1].isdigit()]
    return [p for p in found if not psutil.pid_exists(_worker_pid(p.name))]


def _worker_pid(name: str) -> int:
    digits = name.removeprefix("socket-course-").removeprefix("sc-").split("-")[0]
    return int(digits) if digits.isdigit() else -1


def test_submissions_folder_is_untouched(graded):
    assert snapshot(graded["subs"]) == graded["before"]


def test_gradebook_is_consistent_with_grades_csv(graded):
    rows = {r["student"]: float(r["score"]) for r in csv.DictReader((graded["out"] / "grades.csv").open())
            if r["status"] != "error"}
    with sqlite3.connect(graded["out"] / "gradebook.db") as db:
        stored = dict(db.execute(
            "SELECT student.id, SUM(COALESCE(grade.manual_score, grade.auto_score, 0)) FROM grade "
            "JOIN submitted_notebook ON grade.notebook_id = submitted_notebook.id "
            "JOIN submitted_assignment ON submitted_notebook.assignment_id = submitted_assignment.id "
            "JOIN student ON submitted_assignment.student_id = student.id GROUP BY student.id").fetchall())
    for student, score in rows.items():
        assert stored.get(student, 0) == score, student


@pytest.mark.skipif(bwrap_path() is None, reason="isolation needs bubblewrap on Linux")
def test_sandbox_hides_sources_and_protects_the_gradebook(graded):
    out = graded["out"]
    attempts = printed("snoops", "ATTEMPTS", graded)
    [job] = [p.parents[3] for p in (out / "work" / "jobs").glob("*/autograded/snoops/00_pilot/pilot.ipynb")]
    # What the kernel opened at those paths is checked on this side: as root the kernel's private user
    # cannot even make them in its jail; graded without privileges, the kernel is the grader's user in a
    # user namespace and may write them, but into the jail's own tmpfs, which nothing outside reads.
    assert not (job / "gradebook.db").read_bytes().endswith(b"pwned"), attempts  # ../../../gradebook.db
    assert not (out / "work" / "jobs" / "other__00_pilot").exists()
    assert not (REPO / "notebooks" / "x.ipynb").exists()
    if os.geteuid() == 0:
        assert attempts["gradebook"] != "written" and attempts["other_job"] != "written"
    assert attempts["repo_notebooks"] != "written"
    assert attempts["sources_seen"] == []
    assert graded["results"]["snoops"].score == 3
    assert graded["results"]["clean"].score == 3


def test_feedback_never_shows_hidden_tests(graded):
    for html in (graded["out"] / "feedback").rglob("*.html"):
        assert "bytes(range(256))" not in html.read_text(), html


@pytest.mark.parametrize("student,why", [
    ("linked_student", "symbolic link"), ("linked_notebook", "symbolic link"), ("fifo_notebook", "special file"),
    ("too_many_cells", "cells (at most"), ("s" * 63 + "…", "characters long"),
])
def test_submissions_that_are_not_plain_data_are_refused(graded, student, why):
    result = graded["results"][student]
    assert (result.status, result.score) == ("error", 0), result
    assert any(why in p for p in result.problems), result.problems


def test_the_run_completes_and_every_submission_has_a_row(graded):
    rows = list(csv.DictReader((graded["out"] / "grades.csv").open()))
    assert len(rows) == graded["count"] == len(graded["results"])
    assert {r["student"] for r in rows} >= {"clean", "linked_student", "nests_deeply", "'" + FORMULA_NAME}


def test_reports_cannot_start_a_spreadsheet_formula(graded):
    for name in ("grades.csv", "canvas.csv"):
        for row in csv.reader((graded["out"] / name).open()):
            for cell in row:
                assert not cell.startswith(("=", "+", "-", "@")), (name, cell)
                assert all(ch.isprintable() for ch in cell), (name, cell)


def test_an_added_cell_is_flagged_as_such(graded):
    result = graded["results"]["adds_cells"]
    assert result.status == "flagged" and result.score == 0
    assert any(f.startswith("an added cell") for f in result.flags), result.flags


def test_a_scan_that_runs_out_of_stack_flags_instead_of_crashing(graded):
    result = graded["results"]["nests_deeply"]
    assert result.status == "flagged" and result.score == 0 and "nested too deeply" in " ".join(result.flags)


class ActiveContent(HTMLParser):
    """Collects what a browser would run: event-handler attributes and the text of script elements."""

    def __init__(self):
        super().__init__()
        self.handlers, self.scripts, self._in_script = [], [], False

    def handle_starttag(self, tag, attrs):
        self.handlers += [(tag, name) for name, _ in attrs if name.lower().startswith("on")]
        self._in_script = tag == "script"

    def handle_endtag(self, tag):
        self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.scripts.append(data)


def test_feedback_is_safe_to_open(graded):
    pages = list((graded["out"] / "feedback").rglob("*.html"))
    assert len(pages) > 10
    for page in pages:
        html = page.read_text()
        active = ActiveContent()
        active.feed(html)
        assert not active.handlers, (page, active.handlers)
        assert not [s for s in active.scripts if "pwned" in s or "alert(" in s], page
        assert len(html.encode()) < 2 * 1024**2, (page, len(html))
    flood = (graded["out"] / "feedback" / "floods_output" / "00_pilot" / "pilot.html").read_text()
    assert "cut from the feedback" in flood


def test_feedback_shows_the_scores_grades_csv_has(graded):
    """A flagged submission's feedback shows the 0 it was given, not what its kernel's tests said."""
    page = (graded["out"] / "feedback" / "fake_equality" / "00_pilot" / "pilot.html").read_text()
    assert graded["results"]["fake_equality"].score == 0
    assert "Score: 0.0 / 3.0" in page or "0.0 / 3.0" in page or "0 / 3" in page, page[:2000]


def test_hidden_tests_echoed_by_the_learner_never_reach_feedback(graded):
    for student in ("echoes_hidden", "adds_cells"):
        page = (graded["out"] / "feedback" / student / "00_pilot" / "pilot.html").read_text()
        assert "bytes(range(256))" not in page and "roundtrip(big)" not in page, student
    assert graded["results"]["echoes_hidden"].score == 3


@pytest.mark.skipif(bwrap_path() is None, reason="isolation needs bubblewrap on Linux")
def test_nothing_a_kernel_writes_is_loaded_or_followed_outside_it(graded):
    report = printed("plants_files", "PLANTED", graded)
    assert graded["results"]["plants_files"].score == 3
    [job] = [p.parents[3] for p in (graded["out"] / "work" / "jobs").glob("*/autograded/plants_files")]
    assert not (job / ".jupyter").exists() and not (job / "feedback" / "planted.html").exists()
    assert not any(p.name == "zz_planted.pth" for p in Path(sys.prefix).rglob("zz_planted.pth"))
    assert report["planted"]["pth"] != "written"
    assert b"PWNED" not in (job / "gradebook.db").read_bytes()  # written, if at all, in the jail's own tmpfs
    if os.geteuid() == 0:
        assert report["planted"]["gradebook"] != "written"
    assert not {"SC_GRADER_SECRET", "JUPYTER_PATH", "JUPYTER_RUNTIME_DIR", "PYTHONPATH"} & set(report["env"])
    assert set(KERNEL_ENV) <= set(report["env"])
    if os.geteuid() == 0:
        assert report["uid"] != 0, "the kernel ran as root"
        assert report["planted"]["ipc_dir"] != "written", "the kernel could fill the grader's /tmp"
    assert not Path("/tmp/PWNED").exists()
    after = snapshot(REPO / "notebooks", REPO / "course_lib", PILOT)
    assert after == graded["repo_before"]


@pytest.mark.skipif(bwrap_path() is None, reason="isolation needs bubblewrap on Linux")
def test_a_job_cannot_start_processes_without_end(graded):
    started = printed("forks_many", "STARTED", graded)
    limited = os.geteuid() == 0 or any(Path("/sys/fs/cgroup").glob("*/cgroup.procs"))
    if limited:
        assert started < PROCESS_LIMIT, started
    assert graded["results"]["forks_many"].score == 3


def test_a_class_of_unknown_assignments_still_gets_grades_csv(tmp_path):
    subs = tmp_path / "subs"
    dest = subs / "alice" / "99_nope" / "nope.ipynb"
    dest.parent.mkdir(parents=True)
    nbformat.write(nbformat.read(str(NOTEBOOK), as_version=4), str(dest))
    [result] = grade(subs, tmp_path / "out", feedback=False, source=PILOT, jobs=1)
    assert result.status == "error" and "unknown assignment" in result.problems[0]
    rows = list(csv.DictReader((tmp_path / "out" / "grades.csv").open()))
    assert [r["student"] for r in rows] == ["alice"]
