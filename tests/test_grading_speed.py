"""What grading does to be fast must not change what it produces: feedback pages, scratch gradebooks, the gate.

The speed itself is measured by benchmarks/grading.py, never here.
"""
from __future__ import annotations

import os
from itertools import pairwise
import sqlite3
import time
from pathlib import Path

import nbformat
import pytest
from bs4 import BeautifulSoup
from nbconvert.exporters import HTMLExporter

from course_lib.grading.cells import is_graded, is_solution
from course_lib.grading.course import assignments, load_config
from course_lib.grading.procs import HAS_FORK, Task, gate_acquire, gate_release, run_all


def _feedback_exporter():
    from nbgrader.converters import GenerateFeedback

    converter = GenerateFeedback(config=load_config(Path("/nonexistent-course-root")))
    exporter = converter.exporter_class(parent=converter, config=converter.config)
    for pp in converter.preprocessors:
        if getattr(pp, "__name__", str(pp)).rpartition(".")[2] != "GetGrades":
            exporter.register_preprocessor(pp)
    return exporter


def _graded(nb):
    """The notebook as GetGrades leaves it for the template."""
    nb.metadata["language_info"] = {"name": "python", "pygments_lexer": "ipython3"}
    for cell in nb.cells:
        if is_graded(cell):
            cell.metadata.nbgrader.update(score=1.0, points=2.0)
        if is_solution(cell):
            cell.metadata.nbgrader["comment"] = None
    return nb


RESOURCES = {"nbgrader": {"score": 1.0, "max_score": 2.0, "late_penalty": 0}}


@pytest.mark.parametrize("section", ["01_creation", "07_multiplexing"])
def test_feedback_page_is_nbconverts_page(section):
    """The page FeedbackExporter writes is, once parsed, the very page nbconvert's HTMLExporter writes."""
    exporter = _feedback_exporter()
    assert type(exporter).__name__ == "FeedbackExporter"  # grading/nbgrader_config.py selects it
    nb = _graded(nbformat.read(str(assignments()[section].notebooks[0]), as_version=4))
    ours, _ = exporter.from_notebook_node(nb, resources=dict(RESOURCES))
    again, _ = exporter.from_notebook_node(nb, resources=dict(RESOURCES))  # from the memos this time
    theirs, _ = HTMLExporter.from_notebook_node(exporter, nb, resources=dict(RESOURCES))
    assert ours == again
    assert str(BeautifulSoup(ours, features="html.parser")) == theirs


def test_feedback_image_without_alt_text_gets_nbconverts_placeholder():
    exporter = _feedback_exporter()
    nb = _graded(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("plot()", outputs=[
        nbformat.v4.new_output("display_data", data={"image/png": "iVBORw0KGgo="})])]))
    page, _ = exporter.from_notebook_node(nb, resources=dict(RESOURCES))
    assert 'alt="No description has been provided for this image"' in page


def test_scratch_gradebooks_skip_fsync_and_no_other(tmp_path):
    from nbgrader.api import Gradebook

    from course_lib.grading.course import make_api

    api = make_api(tmp_path / "course")
    elsewhere = tmp_path / "kept.db"
    for url in (api.coursedir.db_url, f"sqlite:///{elsewhere}"):
        with Gradebook(url) as gb:
            gb.add_student("s")
            setting = gb.db.connection().exec_driver_sql("PRAGMA synchronous").scalar()
        assert setting == (0 if url == api.coursedir.db_url else 2), url  # OFF in the scratch root, else FULL
    assert sqlite3.connect(elsewhere).execute("SELECT id FROM student").fetchall() == [("s",)]


def _gated(log: Path, hold: float):
    def run() -> dict:
        gate_acquire()
        with open(log, "a") as fh:
            fh.write(f"in {os.getpid()} {time.monotonic()}\n")
        time.sleep(hold)  # noqa: TID251 - sleep-ok: a notebook's cells that take a while
        with open(log, "a") as fh:
            fh.write(f"out {os.getpid()} {time.monotonic()}\n")
        gate_release()
        return {"ok": True}
    return run


@pytest.mark.skipif(not HAS_FORK, reason="the gate works between forked workers")
def test_gate_keeps_jobs_places_and_waiting_does_not_count(tmp_path):
    log = tmp_path / "log"
    reports: dict = {}
    tasks = [Task(key=k, run=_gated(log, 0.4 if k else 2.5)) for k in range(5)]
    # one place: the first holds it 2.5 s while the others, started ahead, wait past their 2 s budget
    run_all(tasks, 1, 2.0, lambda key, report: reports.__setitem__(key, report), ahead=2)
    assert all(reports[k].get("ok") for k in range(1, 5)), reports  # the wait did not count
    assert "budget" in reports[0].get("error", "")  # the first ran its own 2.5 s: stopped
    stamps: dict = {}
    for line in log.read_text().splitlines():
        what, pid, when = line.split()
        stamps.setdefault(pid, {})[what] = float(when)
    first = min(stamps.values(), key=lambda s: s["in"])
    assert "out" not in first  # stopped while it held the place: the place came back to the parent
    others = sorted((s["in"], s["out"]) for s in stamps.values() if s is not first)
    assert len(others) == 4 and others[0][0] >= first["in"] + 1.5  # they waited for it
    assert all(later[0] >= earlier[1] for earlier, later in pairwise(others))  # one at a time


def _blocks() -> dict:
    import select

    select.select([], [], [], 60)  # a notebook that runs on: stopped by the interruption, not by time
    return {"ok": True}


@pytest.mark.skipif(not HAS_FORK, reason="forked workers")
def test_an_interrupted_run_stops_its_workers_and_cleans_up_after_each(tmp_path):
    """Ctrl-C (or SIGTERM, see below) while workers run: each is stopped, reaped, and its `after` clean-up
    (the jail's removal) runs, as when it ends on its own."""
    import psutil

    cleaned: list[int] = []

    def done(key, report):
        if key == "quick":
            raise KeyboardInterrupt("the instructor pressed Ctrl-C")

    tasks = [Task(key="slow", run=_blocks, after=cleaned.append),
             Task(key="quick", run=lambda: {"ok": True}, after=cleaned.append)]
    start = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        run_all(tasks, 2, 60.0, done)
    assert time.monotonic() - start < 30
    assert len(cleaned) == 2, cleaned  # both workers' clean-up ran, the interrupted one's too
    assert not any(psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
                   for pid in cleaned)


def test_sigterm_interrupts_the_grader_like_ctrl_c():
    import signal

    from course_lib.grading.procs import interruptible

    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt), interruptible():
        os.kill(os.getpid(), signal.SIGTERM)  # the handler runs as soon as the call returns
    assert signal.getsignal(signal.SIGTERM) is before


@pytest.mark.skipif(not HAS_FORK or not Path("/tmp").is_dir(), reason="the jails' folders are under /tmp")
def test_jails_of_graders_killed_outright_are_swept(tmp_path):
    import shutil
    import subprocess
    import sys

    from course_lib.grading.sandbox import sweep_stale

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    live = os.getppid()  # alive for the whole test
    stale = Path(f"/tmp/sc-{gone.pid}-swept")
    kept = Path(f"/tmp/sc-{live}-kept")
    decoy = Path(f"/tmp/sc-{gone.pid}x-not-a-jail")
    for folder in (stale, kept, decoy):
        folder.mkdir()
    (stale / "kernel.json").write_text("{}")
    try:
        swept = sweep_stale()
        assert gone.pid in swept and not stale.exists()
        assert kept.is_dir() and decoy.is_dir()  # a live worker's jail, and a name that is not a jail's
    finally:
        for folder in (stale, kept, decoy):
            shutil.rmtree(folder, ignore_errors=True)
