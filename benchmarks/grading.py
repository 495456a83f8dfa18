"""Grading throughput: stock nbgrader against `socket-course grade -j N`, for the same work, and where the time goes.

    python benchmarks/grading.py            # full: 5 copies of every section, then classes of 6, 30 and 120
    python benchmarks/grading.py --quick    # CI size: 2 copies of two short sections, classes of 2, 4 and 8
    python benchmarks/grading.py [--copies K] [--jobs N] [--assignment NAME ...] [--sizes 6,30,120] [--no-stock]
                                 [--without-judge]

Builds K copies of the reference submission of every chosen assignment and grades them
- with stock nbgrader, one course root, one `nbgrader autograde` then one `nbgrader generate_feedback` per
  assignment, one assignment after another (scores and per-student feedback: the same work as ours), and
- with socket-course's grader (feedback on, sandbox where bubblewrap works, and the judge where it exists),
  in this process (with --without-judge, once more with the judge off: what the judge costs),
then prints both wall times, their ratio, and the median seconds per notebook of each phase of our worker,
beside the floor: the cells' own run time. It then grades classes of the --sizes given (the sections taken
in turn) and prints the time per submission of each, which should stay flat.

The machine's load average is printed at the start and the end: on a shared machine the figures are only
comparable when it is low. Where cgroup v1's cpuacct controller is writable (Linux, as root), the CPU
seconds each side used, kernels included, are printed too: they change far less with the load than wall
time. Prints figures; asserts nothing.
"""
from __future__ import annotations

import argparse
import contextlib
import inspect
import os
import shlex
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
from course_lib.grading.grade import default_jobs, grade  # noqa: E402
from course_lib.grading.sandbox import bwrap_path  # noqa: E402

QUICK = {"copies": 2, "assignment": ["01_creation", "05_utilities"], "sizes": "2,4,8"}
FULL = {"copies": 5, "assignment": None, "sizes": "6,30,120"}
# (label, how it is computed from a worker's timings), in the order a submission goes through them
PHASES = [
    ("read + scan + set-up", lambda t: t.get("intake", 0.0) + t.get("setup", 0.0)),
    ("sandbox + kernel start", lambda t: max(0.0, t.get("kernel_start", 0.0) - t.get("gate_wait", 0.0))),
    ("waiting to run cells", lambda t: t.get("gate_wait", 0.0)),  # its kernel is ready; others run cells
    ("cells (the floor)", lambda t: t.get("cells", 0.0)),
    ("nbgrader bookkeeping", lambda t: max(0.0, t.get("autograde", 0.0) - t.get("kernel_start", 0.0)
                                           - t.get("cells", 0.0))),
    ("judge", lambda t: t.get("judge", 0.0)),
    ("decide", lambda t: t.get("decide", 0.0)),
    ("feedback", lambda t: t.get("feedback", 0.0)),
    ("clean-up", lambda t: t.get("cleanup", 0.0)),
]
WORKER = ("intake", "setup", "autograde", "judge", "decide", "feedback", "cleanup")  # their sum: the worker's wall


def load() -> str:
    try:
        return "load average %.2f %.2f %.2f" % os.getloadavg()
    except OSError:
        return "load average unknown"


class CpuMeter:
    """CPU seconds of this process and everything it starts from now on (cgroup v1 cpuacct), or None."""

    BASE = Path("/sys/fs/cgroup/cpuacct")

    def __init__(self, name: str):
        self.group: Path | None = self.BASE / f"socket-course-bench-{os.getpid()}-{name}"
        try:
            self.group.mkdir()
            (self.group / "cgroup.procs").write_text(str(os.getpid()))
        except OSError:
            self.group = None

    def stop(self) -> float | None:
        if self.group is None:
            return None
        try:
            (self.BASE / "cgroup.procs").write_text(str(os.getpid()))
            used = int((self.group / "cpuacct.usage").read_text()) / 1e9
        except (OSError, ValueError):
            return None
        with contextlib.suppress(OSError):
            self.group.rmdir()  # a process still ending keeps it a moment: left behind, empty
        return used


def make_class(folder: Path, chosen, size: int) -> int:
    """`size` reference submissions, the chosen sections taken in turn: student k gets section k mod n."""
    for k in range(size):
        a = chosen[k % len(chosen)]
        dest = folder / f"student{k // len(chosen):03d}" / a.name
        dest.mkdir(parents=True)
        for nb in a.notebooks:
            shutil.copyfile(nb, dest / nb.name)
    return size


def stock(tmp: Path, subs: Path, chosen) -> tuple[float, float | None]:
    """Stock nbgrader: autograde then generate_feedback, one assignment at a time: (wall, CPU seconds)."""
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
    meter = CpuMeter("stock")
    start = time.perf_counter()
    for a in chosen:
        for step in ("autograde", "generate_feedback"):
            subprocess.run(nbgrader + [step, a.name, "--force"], cwd=course, check=True, capture_output=True)
    wall = time.perf_counter() - start
    return wall, meter.stop()


def ours(subs: Path, out: Path, jobs: int, judge: bool = True):
    stats: dict[str, float] = {}
    meter = CpuMeter("ours")
    start = time.perf_counter()
    extra = {} if judge else {"judge": False}
    results = grade(subs, out, feedback=True, jobs=jobs, stats=stats, **extra)
    wall = time.perf_counter() - start
    cpu = meter.stop()
    bad = [r for r in results if r.score < r.max_score or r.status != "graded"]
    if bad:
        print(f"warning: {len(bad)} reference submission(s) did not score full marks: "
              f"{[(r.student, r.assignment, r.score, r.problems + r.flags) for r in bad[:3]]}", file=sys.stderr)
    return wall, cpu, stats, results


def phase_table(results, wall: float, jobs: int, stats: dict[str, float]) -> None:
    timed = [dict(r.timings) for r in results if r.timings]
    if not timed:
        return
    n = len(results)
    worker = [sum(t.get(p, 0.0) for p in WORKER) - t.get("gate_wait", 0.0) for t in timed]
    print(f"\nwhere the time goes: median seconds per notebook ({len(timed)} notebooks, {jobs} workers)")
    for label, value in PHASES:
        values = [value(t) for t in timed]
        if label == "judge" and not any(values):
            print(f"  {label:<24} {'-':>6}   (no judge in this version)")
            continue
        print(f"  {label:<24} {statistics.median(values):6.2f}")
    print(f"  {'worker total':<24} {statistics.median(worker):6.2f}   (less the wait)")
    fixed = stats.get("prepare", 0.0) + stats.get("warm", 0.0) + stats.get("finish", 0.0)
    per_slot = stats.get("run", wall) * jobs / n
    print(f"  {'parent, per notebook':<24} {stats.get('run_cpu', 0.0) / n:6.2f}   (CPU: recording, forking, "
          f"reaping; the run's wall x {jobs} workers / {n} notebooks = {per_slot:.2f})")
    print(f"  {'parent, once':<24} {fixed:6.2f}   (generating the assignments and jobs {stats.get('prepare', 0):.2f}, "
          f"warming {stats.get('warm', 0):.2f}, reports {stats.get('finish', 0):.2f})")
    cells = [t.get("cells", 0.0) for t in timed]
    print(f"  floor: the cells' own time, median {statistics.median(cells):.2f} s per notebook, "
          f"{sum(cells):.1f} s in all ({sum(cells) / jobs:.1f} s on {jobs} workers) against {wall:.1f} s of wall")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="CI size: " + ", ".join(f"{k}={v}" for k, v in
                                                                                      QUICK.items()))
    parser.add_argument("--copies", type=int)
    parser.add_argument("--jobs", type=int, default=default_jobs(),
                        help="submissions graded at once (default: socket-course grade's, one more than the cores)")
    parser.add_argument("--assignment", action="append")
    parser.add_argument("--sizes", help="comma-separated class sizes to grade for the time per submission "
                                        "('' for none)")
    parser.add_argument("--no-stock", action="store_true", help="skip stock nbgrader (it is slow)")
    parser.add_argument("--without-judge", action="store_true",
                        help="also grade the same class with the judge off, to show what the judge costs")
    args = parser.parse_args()
    mode = QUICK if args.quick else FULL
    copies = args.copies if args.copies is not None else mode["copies"]
    names = args.assignment or mode["assignment"]
    sizes = args.sizes if args.sizes is not None else mode["sizes"]
    ensure_tools_on_path()
    known = assignments()
    chosen = [known[a] for a in names] if names else list(known.values())
    judge = "judge" in inspect.signature(grade).parameters
    print("command: " + shlex.join([Path(sys.executable).name, "benchmarks/grading.py", *sys.argv[1:]]))
    print(f"start: {load()}, {os.cpu_count()} cores; ours: "
          f"{'bubblewrap sandbox' if bwrap_path() else 'no sandbox (no bubblewrap)'}, feedback on, "
          f"{'judge on' if judge else 'no judge in this version'}, -j {args.jobs}; stock: feedback on")
    with tempfile.TemporaryDirectory(prefix="bench-grading-") as tmp_name:
        tmp = Path(tmp_name)
        total = make_class(tmp / "submissions", chosen, copies * len(chosen))
        print(f"submissions: {total} ({copies} copies x {len(chosen)} assignments)")
        s = None
        if not args.no_stock:
            s, s_cpu = stock(tmp, tmp / "submissions", chosen)
            print(f"stock nbgrader autograde + generate_feedback: {s:7.1f} s  ({s / total:.2f} s per submission)"
                  + (f", CPU {s_cpu:.1f} s" if s_cpu is not None else ""))
        o, o_cpu, stats, results = ours(tmp / "submissions", tmp / "out", args.jobs)
        print(f"socket-course grade -j {args.jobs}:{'':17}{o:7.1f} s  ({o / total:.2f} s per submission)"
              + (f", CPU {o_cpu:.1f} s" if o_cpu is not None else ""))
        if s is not None:
            print(f"speed-up:{'':36}{s / o:7.2f}x")
        if args.without_judge and judge:
            n, n_cpu, _, _ = ours(tmp / "submissions", tmp / "out-no-judge", args.jobs, judge=False)
            print(f"  the same with the judge off:{'':9}{n:7.1f} s  ({n / total:.2f} s per submission)"
                  + (f", CPU {n_cpu:.1f} s" if n_cpu is not None else "")
                  + (f"; speed-up {s / n:.2f}x" if s is not None else ""))
        phase_table(results, o, args.jobs, stats)
        if sizes:
            print("\ncost per submission by class size (should stay flat; 'graded' leaves out the parent's "
                  "start-up: generating the assignments, warming):")
        for size in [int(n) for n in sizes.split(",") if n.strip()]:
            folder = tmp / f"class{size}"
            made = make_class(folder, chosen, size)
            wall, cpu, stats, _ = ours(folder, tmp / f"out{size}", args.jobs)
            run = stats.get("run", wall)
            print(f"  class of {made:4d}: {wall:7.1f} s, {wall / made:.2f} s per submission; graded "
                  f"{run / made:.2f} s per submission" + (f"; CPU {cpu / made:.2f} s per submission"
                                                           if cpu is not None else ""))
            shutil.rmtree(folder, ignore_errors=True)
            shutil.rmtree(tmp / f"out{size}", ignore_errors=True)
    print(f"end: {load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
