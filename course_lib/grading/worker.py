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
    args = parser.parse_args(argv)
    report = grade_in_process(Path(args.root), args.assignment, args.student, args.feedback,
                              Path(args.source) if args.source else None)
    print(json.dumps(report), flush=True)
    return 0


def grade_in_process(root: Path, assignment: str, student: str, feedback: bool, source: Path | None) -> dict:
    """Autograde (and give feedback on) one prepared submission; a report, never an exception."""
    warnings.filterwarnings("ignore")  # nbgrader's SQLAlchemy chatter is not the learner's business
    from .course import failure_reason, make_api

    try:
        api = make_api(root, source)
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
    return report


if __name__ == "__main__":
    sys.exit(main())
