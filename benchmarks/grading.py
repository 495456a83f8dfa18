"""Grading throughput: stock nbgrader against `socket-course grade -j N`, for the same work, and where the time goes.

    python benchmarks/grading.py [--copies K] [--jobs N] [--assignment NAME] [--sizes 6,30,120] [--no-stock]

Builds K copies of the reference submission of every chosen assignment and grades them
- with stock nbgrader, one course root, one `autograde` then one `generate_feedback` per assignment
  (scores and per-student feedback: the same work as ours), and
- with socket-course's grader (feedback on, sandbox where bubblewrap works), in this process,
then prints both wall times, their ratio, and the median time per notebook of each phase of our worker:
reading and scanning the submission, set-up (jail, nbgrader), the kernel's start, the cells' own run time
(the floor), nbgrader's own bookkeeping, deciding the scores, feedback, clean-up, and what the parent adds.
With --sizes it also grades classes of those sizes and prints the time per submission of each (it should
stay flat). Prints figures; asserts nothing.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from course_lib.grading.course import assignments, ensure_tools_on_path  # noqa: E402
from course_lib.grading.grade import grade  # noqa: E402
from course_lib.grading.sandbox import bwrap_path  # noqa: E402

PHASES = ["intake", "setup", "kernel_start", "cells", "nbgrader", "decide", "feedback", "cleanup"]


def make_class(folder: Path, chosen, copies: int) -> int:
    for k in range(copies):
        for a in chosen:
            dest = folder / f"student{k:03d}" / a.name
            dest.mkdir(parents=True)
            for nb in a.notebooks:
                shutil.copyfile(nb, dest / nb.name)
    return copies * len(chosen)


def stock(tmp: Path, subs: Path, chosen) -> float:
    """Stock nbgrader: autograde then generate_feedback, one assignment at a time."""
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
        for step in ("autograde", "generate_feedback"):
            subprocess.run(nbgrader + [step, a.name, "--force"], cwd=course, check=True, capture_output=True)
    return time.perf_counter() - start


def ours(subs: Path, out: Path, jobs: int):
    start = time.perf_counter()
    results = grade(subs, out, feedback=True, jobs=jobs)
    wall = time.perf_counter() - start
    bad = [r for r in results if r.score < r.max_score or r.status != "graded"]
    if bad:
        print(f"warning: {len(bad)} reference submission(s) did not score full marks: "
              f"{[(r.student, r.assignment, r.score, r.problems) for r in bad[:3]]}", file=sys.stderr)
    return wall, results


def phase_table(results, wall: float, jobs: int) -> None:
    rows = {p: [] for p in PHASES}
    worker = []
    for r in results:
        t = dict(r.timings)
        if not t:
            continue
        t["nbgrader"] = max(0.0, t.get("autograde", 0.0) - t.get("kernel_start", 0.0) - t.get("cells", 0.0))
        for p in PHASES:
            rows[p].append(t.get(p, 0.0))
        worker.append(sum(t.get(p, 0.0) for p in ("intake", "setup", "autograde", "decide", "feedback", "cleanup")))
    if not worker:
        return
    per_slot = wall * jobs / len(results)
    print("\nmedian seconds per notebook, by phase of the worker:")
    for p in PHASES:
        print(f"  {p:<14} {statistics.median(rows[p]):6.2f}")
    print(f"  {'worker total':<14} {statistics.median(worker):6.2f}")
    print(f"  {'parent + fork':<14} {max(0.0, per_slot - statistics.mean(worker)):6.2f}  "
          f"(wall x jobs / notebooks = {per_slot:.2f}, less the mean worker total)")
    print(f"  floor (cells)  {statistics.median(rows['cells']):6.2f}  "
          f"-> overhead {statistics.median(worker) - statistics.median(rows['cells']):.2f} s per notebook")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--copies", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--assignment", action="append")
    parser.add_argument("--sizes", help="comma-separated class sizes to grade for the time per submission")
    parser.add_argument("--no-stock", action="store_true", help="skip stock nbgrader (it is slow)")
    args = parser.parse_args()
    ensure_tools_on_path()
    known = assignments()
    chosen = [known[a] for a in args.assignment] if args.assignment else list(known.values())
    print(f"isolation (ours): {'bubblewrap sandbox' if bwrap_path() else 'none (no bubblewrap)'}; "
          f"feedback on both sides; {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory(prefix="bench-grading-") as tmp:
        tmp = Path(tmp)
        total = make_class(tmp / "submissions", chosen, args.copies)
        print(f"submissions: {total} ({args.copies} copies x {len(chosen)} assignments)")
        if not args.no_stock:
            s = stock(tmp, tmp / "submissions", chosen)
            print(f"stock nbgrader autograde + generate_feedback: {s:7.1f} s  ({s / total:.2f} s per submission)")
        o, results = ours(tmp / "submissions", tmp / "out", args.jobs)
        print(f"socket-course grade -j {args.jobs}:                {o:7.1f} s  ({o / total:.2f} s per submission)")
        if not args.no_stock:
            print(f"speed-up:                                    {s / o:7.2f}x")
        phase_table(results, o, args.jobs)
        for size in [int(n) for n in args.sizes.split(",")] if args.sizes else []:
            folder = tmp / f"class{size}"
            copies = -(-size // len(chosen))
            made = make_class(folder, chosen, copies)
            wall, _ = ours(folder, tmp / f"out{size}", args.jobs)
            print(f"class of {made:4d}: {wall:7.1f} s, {wall / made:.2f} s per submission")
    return 0


if __name__ == "__main__":
    sys.exit(main())
