"""Grading time per submission with and without the judge (course_lib/judge), same class, same machine.

    python benchmarks/judge.py [--copies K] [--jobs N] [--rounds R]

Grades K copies of every section's reference submission (sandbox where bubblewrap works, feedback on),
alternately with `judge=False` and `judge=True`, R rounds, and prints for each run the wall time, the time
per submission, whether every reference kept full marks, and the median `judge` phase per section.
Prints figures; asserts nothing. On a shared machine the figures are noisy: compare rounds.
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from course_lib.grading.course import assignments  # noqa: E402
from course_lib.grading.grade import grade  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--copies", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="judge-bench-"))
    try:
        subs = base / "subs"
        for k in range(args.copies):
            for a in assignments().values():
                for nb in a.notebooks:
                    dest = subs / f"s{k:03d}" / a.name
                    dest.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(nb, dest / nb.name)
        n = args.copies * len(assignments())
        for _ in range(args.rounds):
            for judge in (False, True):
                out = base / "out"
                shutil.rmtree(out, ignore_errors=True)
                start = time.monotonic()
                results = grade(subs, out, jobs=args.jobs, judge=judge)
                wall = time.monotonic() - start
                full = sum(r.score == r.max_score for r in results)
                phase: dict[str, list[float]] = {}
                for r in results:
                    phase.setdefault(r.assignment, []).append(r.timings.get("judge", 0.0))
                print(f"judge={judge!s:5}: {n} submissions, -j{args.jobs}: {wall:6.1f} s, {wall / n:5.2f} s per "
                      f"submission, full marks {full}/{n}; judge phase (median s): "
                      + ", ".join(f"{a} {statistics.median(v):.1f}" for a, v in sorted(phase.items())), flush=True)
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
