"""Verdicts from outside the learner's kernel (issue 10, part 1).

`socket-course grade` autogrades a notebook in the learner's kernel (nbgrader) and, beside it, runs a
judge: a fresh interpreter (`python -I -m course_lib.judge`, run.py) that executes the graded test cells
of the instructor's source notebook with its own trusted course_lib, calling the learner's functions in
the kernel through a narrow channel (wire.py: framed JSON over AF_UNIX, sockets as descriptors; agent.py
inside the kernel, client.py in the judge). execute.py starts the judge and the agent from nbgrader's
Execute step, after every cell ran and before the kernel stops. A graded cell scores only if both the
notebook's own test and the judge pass it (course_lib/grading/worker.py decides).
"""
from __future__ import annotations

import socket
import sys


def supported() -> bool:
    """The judge needs descriptors over AF_UNIX (SCM_RIGHTS) and the peer's credentials (SO_PEERCRED): Linux."""
    return sys.platform.startswith("linux") and all(
        hasattr(socket, name) for name in ("AF_UNIX", "SCM_RIGHTS", "SO_PEERCRED"))
