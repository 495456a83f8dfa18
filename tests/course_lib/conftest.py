"""Fixtures for the course_lib harness tests: nothing may leak, ever.

Every test runs inside a leak check (threads and file descriptors compared
before and after) and with ResourceWarning promoted to an error, because the
harness promises learners that nothing is left running after any check.
"""

import gc
import pathlib
import threading

import pytest

from course_lib import resources, timing


_HERE = pathlib.Path(__file__).parent
_STRICT = [
    "error::ResourceWarning",
    "error::pytest.PytestUnraisableExceptionWarning",
    "error::pytest.PytestUnhandledThreadExceptionWarning",
]


def pytest_collection_modifyitems(config, items):
    """Warnings as errors for the harness tests only (not the rest of the suite)."""
    for item in items:
        if _HERE in pathlib.Path(str(item.fspath)).parents:
            for spec in _STRICT:
                item.add_marker(pytest.mark.filterwarnings(spec))


#: Small deadline for the wrong implementations that hang: each costs one.
FAST = timing.scaled(0.5)


@pytest.fixture(autouse=True)
def no_leaks():
    """Fail a test that leaves a thread or a file descriptor behind."""
    gc.collect(1)
    threads_before = set(threading.enumerate())
    fds_before = resources.open_fds()
    yield
    gc.collect(1)
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


@pytest.fixture
def fast():
    """A short deadline for tests of wrong answers that hang."""
    return FAST
