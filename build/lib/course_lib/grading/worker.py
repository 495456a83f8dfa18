"""Grade one submission in a process of its own.

    python -m course_lib.grading.worker ROOT ASSIGNMENT STUDENT [--feedback] [--source DIR]

ROOT is a private nbgrader course folder prepared by the parent (course_lib.grading.grade): its own
gradebook (a copy of the template holding the assignment's source cells) and the submission in
submitted/STUDENT/ASSIGNMENT/. The worker runs nbgrader's autograde (and generate_feedback), and prints
one JSON line: {"ok": bool, "error": str}. Scores are not taken from this process's word: the parent
reads them from the autograded notebook it leaves behind.
"""
from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_lib.grading.worker")
    parser.add_argument("root")
    parser.add_argument("assignment")
    parser.add_argument("student")
    parser.add_argument("--feedback", action="store_true")
    parser.add_argument("--source")
    parser.add_argument("--sandbox", action="store_true")
    parser.add_argument("--cell-timeout", type=int)
    args = parser.parse_args(argv)
    report = grade_in_process(Path(args.root), args.assignment, args.student, args.feedback,
                              Path(args.source) if args.source else None, args.sandbox, args.cell_timeout)
    print(json.dumps(report), flush=True)
    return 0


def sandbox_config(root: Path) -> tuple[object, Path]:
    """Config that makes nbgrader start the job's kernel inside the sandbox, talking over IPC."""
    import os
    import tempfile

    from traitlets.config import Config

    from .sandbox import KERNEL_NAME, install_kernelspec

    ipc_dir = Path(tempfile.mkdtemp(prefix="sc-", dir="/tmp"))  # short: Unix socket paths are limited
    os.environ["JUPYTER_PATH"] = str(install_kernelspec(root.resolve(), ipc_dir))
    os.environ["JUPYTER_RUNTIME_DIR"] = str(ipc_dir)
    config = Config()
    config.Execute.kernel_name = KERNEL_NAME
    config.KernelManager.transport = "ipc"
    config.KernelManager.ip = str(ipc_dir / "k")
    config.KernelManager.connection_file = str(ipc_dir / "kernel.json")
    return config, ipc_dir


def grade_in_process(root: Path, assignment: str, student: str, feedback: bool, source: Path | None,
                     sandbox: bool = False, cell_timeout: int | None = None) -> dict:
    """Autograde (and give feedback on) one prepared submission; a report, never an exception."""
    import shutil

    warnings.filterwarnings("ignore")  # nbgrader's SQLAlchemy chatter is not the learner's business
    from .course import failure_reason, make_api

    ipc_dir = None
    try:
        from traitlets.config import Config

        extra = Config()
        if sandbox:
            extra, ipc_dir = sandbox_config(root)
        if cell_timeout:
            extra.Execute.timeout = cell_timeout
        api = make_api(root, source, extra)
        outcome = api.autograde(assignment, student)
        report = {"ok": bool(outcome.get("success")), "error": ""}
        if not report["ok"]:
            report["error"] = "autograde failed: " + failure_reason(outcome)
        elif feedback:
            fb = api.generate_feedback(assignment, student)
            if not fb.get("success"):
                report["error"] = "feedback could not be generated: " + failure_reason(fb)
    except Exception as exc:  # a broken submission must become a report, not a crash
        report = {"ok": False, "error": f"the grader failed: {type(exc).__name__}: {exc}"}
    finally:
        if ipc_dir is not None:
            shutil.rmtree(ipc_dir, ignore_errors=True)
    return report


if __name__ == "__main__":
    sys.exit(main())
