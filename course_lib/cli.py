"""The `socket-course` command: release, check, grade, lab.

Every subcommand is a thin layer over course_lib.grading, which is built on nbgrader's API.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .grading.course import CourseError, assignments, find_assignment

DESCRIPTION = """\
socket-course: a Jupyter course on Python's socket module, auto-graded with nbgrader.

  learners:     socket-course lab                 open the course in JupyterLab
                socket-course check NOTEBOOK      run your notebook and see which exercises pass
  instructors:  socket-course release --out DIR   student versions of every section
                socket-course grade SUBS --out OUT  autograde a class (SUBS/<student>/<assignment>/*.ipynb)
                socket-course lab --instructor    the nbgrader formgrader on the course
"""


def cmd_release(args) -> int:
    from .grading.release import release

    chosen = [find_assignment(a) for a in args.assignment] if args.assignment else None
    written = release(Path(args.out), chosen, overwrite=not args.keep_existing)
    for path in written:
        print(path)
    print(f"{len(written)} student notebook(s) written to {args.out}", file=sys.stderr)
    return 0


def cmd_check(args) -> int:
    from .grading.check import check

    report = check(Path(args.notebook), timeout=args.timeout)
    print(report.render())
    return 0 if report.passed else 1


def cmd_grade(args) -> int:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from .grading.grade import default_jobs, grade
    from .grading.intake import discover
    from .grading.sandbox import bwrap_path, unavailable_reason

    console = Console(stderr=True)
    if not Path(args.submissions).is_dir():
        raise CourseError(f"submissions folder not found: {args.submissions}")
    total = len(discover(Path(args.submissions)))
    if not args.no_sandbox and bwrap_path() is None:
        print(f"socket-course grade: warning: submissions run without a sandbox: {unavailable_reason()}",
              file=sys.stderr)
    options = dict(feedback=not args.no_feedback, jobs=args.jobs or default_jobs(), wall_budget=args.budget,
                   sandbox=False if args.no_sandbox else None, cell_timeout=args.cell_timeout,
                   judge=not args.no_judge)
    if args.quiet:
        results = grade(Path(args.submissions), Path(args.out), **options)
    elif console.is_terminal:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        columns = (TextColumn("grading"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                   TextColumn("{task.description}"))
        with Progress(*columns, console=console) as bar:
            task = bar.add_task("", total=total)
            results = grade(Path(args.submissions), Path(args.out), **options,
                            progress=lambda r, i, n: bar.update(task, completed=i, description=r.student))
    else:
        results = grade(Path(args.submissions), Path(args.out), **options, progress=print_progress)
    bad = [r for r in results if not r.graded]
    table = Table(title="Grades", show_lines=False)
    for column in ("student", "assignment", "score", "status"):
        table.add_column(column)
    for r in results:
        status = {"graded": "graded", "error": "[red]NOT GRADED[/red]: " + escape("; ".join(r.problems)),
                  "flagged": "[yellow]FLAGGED[/yellow]: " + escape("; ".join(r.flags))}[r.status]
        table.add_row(escape(r.student), escape(r.assignment), f"{r.score:g}/{r.max_score:g}", status)
    console.print(table)
    print(f"graded {len(results) - len(bad)} of {len(results)} submission(s); grades in "
          f"{Path(args.out) / 'grades.csv'} (Canvas/Moodle import: canvas.csv)", file=sys.stderr)
    for r in bad:
        print(f"  NOT GRADED {r.student}/{r.assignment}: {'; '.join(r.problems)}", file=sys.stderr)
    for r in results:
        if r.flags:
            print(f"  FLAGGED {r.student}/{r.assignment}: {'; '.join(r.flags)}", file=sys.stderr)
    return 0 if not bad else 2


def print_progress(result, index: int, total: int) -> None:
    """One plain line per submission, for logs and pipes (a terminal gets a progress bar instead)."""
    status = f"{result.score:g}/{result.max_score:g}" if result.graded else "ERROR: " + "; ".join(result.problems)
    if result.flags:
        status += " FLAGGED: " + "; ".join(result.flags)
    print(f"[{index}/{total}] {result.student} {result.assignment}: {status}", file=sys.stderr, flush=True)


def cmd_lab(args) -> int:
    from .lab import instructor_course, lab_argv, lab_env

    if args.instructor:
        server_root, course_root = instructor_course(Path(args.dir) if args.dir else None)
        print(f"Instructor mode: the nbgrader course root is {course_root}; open the formgrader from the "
              "Nbgrader menu (Formgrader)")
    else:
        from .grading.release import release

        server_root = course_root = Path(args.dir or "student").resolve()
        written = release(server_root, overwrite=False)
        print(f"Course notebooks in {server_root} ({len(written)} new; your existing work is never replaced)")
    argv = lab_argv(server_root, args.port, instructor=args.instructor)
    print("Starting JupyterLab on loopback; open the URL with its token printed below. Ctrl-C stops it.",
          flush=True)
    if args.dry_run:
        print(" ".join(argv))
        return 0
    sys.stdout.flush()
    sys.stderr.flush()
    os.chdir(course_root)  # nbgrader's server extensions read nbgrader_config.py from here
    os.execve(sys.executable, argv, lab_env(args.instructor))
    return 0  # not reached


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="socket-course", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("release", help="write the student versions of the notebooks",
                       description="Write DIR/<assignment>/<notebook>.ipynb for every section: solutions "
                                   "replaced by stubs, hidden tests removed (nbgrader generate_assignment).")
    p.add_argument("--out", required=True, help="folder to write the student notebooks into")
    p.add_argument("--assignment", action="append", help="only this assignment (repeatable); default: all")
    p.add_argument("--keep-existing", action="store_true", help="never replace a notebook already in --out")
    p.set_defaults(func=cmd_release)

    p = sub.add_parser("check", help="run your notebook and see which exercises pass",
                       description="Run NOTEBOOK from top to bottom and print, per exercise, pass or fail with "
                                   "the failure message. Exits 0 only when every test passes.")
    p.add_argument("notebook", help="the .ipynb file to check")
    p.add_argument("--timeout", type=int, default=None, help="seconds allowed per cell (default 15)")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("grade", help="autograde a folder of submissions",
                       description="Autograde SUBMISSIONS/<student>/<assignment>/<notebook>.ipynb with nbgrader; "
                                   "write OUT/grades.csv, OUT/feedback/<student>/<assignment>/<notebook>.html and "
                                   "OUT/gradebook.db. The submissions folder is never modified. Exit status 0 "
                                   "when every submission was graded, 2 when some could not be.")
    p.add_argument("submissions", help="folder of <student>/<assignment>/<notebook>.ipynb")
    p.add_argument("--out", required=True, help="folder for grades.csv, feedback and the gradebook")
    p.add_argument("-j", "--jobs", type=int, default=None,
                   help="submissions graded at once (default: one more than the cores, as cells partly wait)")
    p.add_argument("--budget", type=float, default=60.0,
                   help="seconds one notebook may take to grade before it is stopped (default 60)")
    p.add_argument("--cell-timeout", type=int, default=None,
                   help="seconds one cell may run before it is interrupted (default 15)")
    p.add_argument("--no-sandbox", action="store_true",
                   help="run kernels without bubblewrap even where it is available")
    p.add_argument("--no-feedback", action="store_true", help="skip the HTML feedback")
    p.add_argument("--no-judge", action="store_true",
                   help="trust the notebook's own test outputs (no judge outside the kernel): benchmarks only")
    p.add_argument("-q", "--quiet", action="store_true", help="no per-submission progress lines")
    p.set_defaults(func=cmd_grade)

    p = sub.add_parser("lab", help="open the course in JupyterLab (loopback only)",
                       description="Write the student notebooks into DIR (keeping any you already have) and "
                                   "start JupyterLab on 127.0.0.1, printing the URL with its token.")
    p.add_argument("--dir", default=None, help="where your notebooks live (default: ./student); with "
                                               "--instructor, the course folder (default: grading/ of a clone, "
                                               "else ./course)")
    p.add_argument("--port", type=int, default=8888, help="port for JupyterLab (default 8888; 0 picks a free one)")
    p.add_argument("--instructor", action="store_true",
                   help="open the nbgrader course with the formgrader (manage, release and grade assignments)")
    p.add_argument("--dry-run", action="store_true", help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_lab)

    p = sub.add_parser("list", help="list the course's assignments and notebooks")
    p.set_defaults(func=lambda args: print("\n".join(
        f"{name}: {', '.join(a.notebook_names)}" for name, a in assignments().items())) or 0)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return args.func(args)
    except CourseError as exc:
        print(f"socket-course {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"socket-course {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
