"""Grading throughput: stock sequential `nbgrader autograde` against `socket-course grade -j N`.

    python benchmarks/grading.py [--copies K] [--jobs N] [--assignment NAME]

Builds K copies of the reference submission of every chosen assignment, grades them once with nbgrader's
own command-line autograde (one course root, students one after another) and once with socket-course's
parallel grader, and prints both wall times and their ratio. Prints figures; asserts nothing.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from course_lib.grading.course import assignments, ensure_tools_on_path  # noqa: E402
from course_lib.grading.sandbox import bwrap_path  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--copies", type=int, default=4)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--assignment", action="append")
    args = parser.parse_args()
    ensure_tools_on_path()
    known = assignments()
    chosen = [known[a] for a in args.assignment] if args.assignment else list(known.values())
    with tempfile.TemporaryDirectory(prefix="bench-grading-") as tmp:
        tmp = Path(tmp)
        subs = tmp / "submissions"
        for k in range(args.copies):
            for a in chosen:
                dest = subs / f"student{k:02d}" / a.name
                dest.mkdir(parents=True)
                for nb in a.notebooks:
                    shutil.copyfile(nb, dest / nb.name)
        total = args.copies * len(chosen)

        # stock nbgrader: a course root with source -> ../notebooks, submitted/ filled, autograde per assignment
        course = tmp / "stock"
        (course / "submitted").mkdir(parents=True)
        shutil.copytree(subs, course / "submitted", dirs_exist_ok=True)
        (course / "nbgrader_config.py").write_text(
            "c = get_config()\n"
            f"c.CourseDirectory.root = {str(course)!r}\n"
            f"c.CourseDirectory.source_directory = {str(ROOT / 'notebooks')!r}\n"
            "c.ClearSolutions.code_stub = {'python': '# YOUR CODE HERE\\nraise NotImplementedError()'}\n")
        nbgrader = [sys.executable, "-m", "nbgrader"]
        for a in chosen:
            subprocess.run(nbgrader + ["generate_assignment", a.name, "--force"], cwd=course, check=True,
                           capture_output=True)
        start = time.perf_counter()
        for a in chosen:
            subprocess.run(nbgrader + ["autograde", a.name, "--force"], cwd=course, check=True, capture_output=True)
        stock = time.perf_counter() - start

        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "course_lib.cli", "grade", str(subs), "--out", str(tmp / "out"),
                               "-j", str(args.jobs), "--no-feedback", "-q"], capture_output=True, text=True)
        ours = time.perf_counter() - start
        if proc.returncode != 0:
            print(proc.stderr, file=sys.stderr)
            return 1

    print(f"isolation (ours):                   {'bubblewrap sandbox' if bwrap_path() else 'none (no bubblewrap)'}")
    print(f"submissions graded:                 {total} ({args.copies} copies x {len(chosen)} assignments)")
    print(f"stock nbgrader autograde (1 at once): {stock:7.1f} s  ({stock / total:.2f} s per submission)")
    print(f"socket-course grade -j {args.jobs}:            {ours:7.1f} s  ({ours / total:.2f} s per submission)")
    print(f"speed-up:                            {stock / ours:7.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
