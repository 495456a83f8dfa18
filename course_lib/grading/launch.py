"""Start one sandboxed kernel: the kernelspec's command (see sandbox.Jail).

    python -I -S course_lib/grading/launch.py JOB.json CONNECTION_FILE [kernel arguments...]

Runs as the grader, outside the sandbox, for a moment: it joins the job's cgroups, applies the resource
limits and replaces itself with bubblewrap. JOB.json lives in a folder only the grader can read; nothing
here reads a file a kernel could write.

When grading runs as root, bubblewrap starts this module again inside the sandbox:

    python -I -S course_lib/grading/launch.py --inner UID -f CONNECTION_FILE [kernel arguments...]

which hands the connection file to the job's private user, drops to that user (and so every capability),
caps the user's processes, and replaces itself with the kernel.
"""
from __future__ import annotations

import json
import os
import sys


def _limit(pairs: list[tuple[str, int]]) -> None:
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows has no sandbox
        return
    for name, value in pairs:
        which = getattr(resource, name, None)
        if which is None:
            continue
        try:
            _, hard = resource.getrlimit(which)
            cap = value if hard == resource.RLIM_INFINITY else min(value, hard)
            resource.setrlimit(which, (cap, cap))
        except (ValueError, OSError):
            pass


def outer(job: str, connection_file: str, *extra: str) -> None:
    with open(job) as fh:
        settings = json.load(fh)
    for cgroup in settings.get("cgroups", []):
        with open(os.path.join(cgroup, "cgroup.procs"), "w") as fh:
            fh.write(str(os.getpid()))
    _limit([("RLIMIT_AS", settings["memory"]), ("RLIMIT_FSIZE", settings["file_size"]), ("RLIMIT_CORE", 0)])
    command = [*settings["argv"], *([str(settings["processes"])] if settings.get("uid") is not None else []),
               "-f", connection_file, *extra]
    os.execv(command[0], command)


def inner(uid: str, processes: str, flag: str, connection_file: str, *extra: str) -> None:
    user = int(uid)
    os.chown(connection_file, user, user)
    os.setgroups([])
    os.setgid(user)
    os.setuid(user)  # from root to a user of its own: every capability goes with it
    _limit([("RLIMIT_NPROC", int(processes))])  # counted per user: only meaningful for the job's own user
    command = [sys.executable, "-m", "ipykernel_launcher", flag, connection_file, *extra]
    os.execv(command[0], command)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--inner"]:
        inner(*sys.argv[2:])
    else:
        outer(*sys.argv[1:])
