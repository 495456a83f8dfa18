"""Suite-wide pytest hooks, and the leak-strict regime of the harness tests.

The tests of the harness itself (tests/course_lib: the shared modules; tests/exercises: the sections'
own checks) run inside a leak check (threads and file descriptors compared before and after) with
ResourceWarning, unraisable exceptions and unhandled thread exceptions promoted to errors, because
the harness promises learners that nothing is left running after any check. The rest of the suite
(notebooks, grading, the CLI) starts kernels and servers of its own and is not held to it.

This folder is on sys.path (pytest inserts a conftest's folder), so tests import the catalogue of
answers as ``import answers``.
"""
from __future__ import annotations

import gc
import pathlib
import threading

import pytest

from course_lib import resources, timing

_HERE = pathlib.Path(__file__).resolve().parent
LEAK_STRICT = (_HERE / "course_lib", _HERE / "exercises")
_STRICT_WARNINGS = [
    "error::ResourceWarning",
    "error::pytest.PytestUnraisableExceptionWarning",
    "error::pytest.PytestUnhandledThreadExceptionWarning",
]


def leak_strict(path) -> bool:
    return any(folder in pathlib.Path(str(path)).resolve().parents for folder in LEAK_STRICT)


def pytest_collection_modifyitems(config, items):
    """Warnings as errors for the harness tests only (not the rest of the suite)."""
    for item in items:
        if leak_strict(item.path):
            for spec in _STRICT_WARNINGS:
                item.add_marker(pytest.mark.filterwarnings(spec))


@pytest.fixture(autouse=True)
def no_leaks(request):
    """Fail a harness test that leaves a thread or a file descriptor behind."""
    if not leak_strict(request.node.path):
        yield
        return
    gc.collect()  # a full collection: an earlier test's garbage must not warn during this one
    threads_before = set(threading.enumerate())
    fds_before = resources.open_fds()
    yield
    gc.collect()  # what this test left for the garbage collector warns now, charged to this test
    deadline = timing.Deadline(timing.scaled(2.0))
    leaked_threads = []
    for t in threading.enumerate():
        if t not in threads_before:
            t.join(deadline.remaining())
            if t.is_alive():
                leaked_threads.append(t.name)
    assert not leaked_threads, f"threads left running: {leaked_threads}"
    if fds_before is not None:
        leaked = sorted((resources.open_fds() or set()) - fds_before)
        assert not leaked, "descriptors left open: " + "; ".join(
            resources.describe_fd(fd) for fd in leaked)


def pytest_terminal_summary(terminalreporter):
    """Print what tests/test_pythons.py measured (versions run and their times), pass or fail."""
    reports = terminalreporter.stats.get("passed", []) + terminalreporter.stats.get("failed", [])
    lines = [value for report in reports for key, value in getattr(report, "user_properties", ())
             if key == "python_timing"]
    if lines:
        terminalreporter.write_sep("-", "the notebooks under each supported Python")
        for line in lines:
            terminalreporter.write_line(line)
